# %% [markdown]
# # Lab 1 — Your first Xen host
#
# **Goal (45 min):** meet the pieces of a Xen machine — the hypervisor, Domain-0 and guest
# domains with their vCPUs — and see how `xl` shares the physical CPUs (pCPUs) between
# them with *weights* and *caps*.
#
# Everything here is simulated by xensim: time is simulated (a "second" below is a
# simulated second, computed in a fraction of one), and the same seed gives the same run.
# `host.xl("...")` runs any `xl` command, exactly as a terminal on dom0 would.

# %%
from xensim.host import Host
from xensim.notebook.labs import scaled
from xensim.research import plots
from xensim.research.timeline import timeline_from_host

# %% [markdown]
# ## 1. A host with two pCPUs
#
# `trace=True` keeps a record of every scheduling decision so we can plot it later.
# A new host has one domain: **Domain-0**, the privileged domain that runs the toolstack.

# %%
host = Host(pcpus=2, scheduler="credit", seed=1, trace=True)
host

# %% [markdown]
# ## 2. Three guests
#
# Keys are those of an `xl.cfg` file. `web` has two vCPUs and a CPU-bound workload,
# `batch` one busy vCPU, `shell` an interactive user: 0.2 ms of work every 10 ms.

# %%
host.create("web", vcpus=2, workload="cpu")
host.create("batch", workload="cpu")
host.create("shell", workload="duty:busy_ms=0.2,idle_ms=10")
host.run(ms=scaled(2000))
host.xl("list")

# %% [markdown]
# `xl vcpu-list` shows each vCPU, the pCPU it last ran on and its state
# (`r` running, `b` blocked, `-` runnable but waiting).

# %%
host.xl("vcpu-list")

# %% [markdown]
# `xl top` measures CPU(%) over a delay (here 1 simulated second). 100% is one whole pCPU.

# %%
host.xl("top -b -i 2 -d 1")

# %% [markdown]
# ## 3. Weights and caps
#
# The credit scheduler gives each domain CPU in proportion to its **weight** (default
# 256) among the domains that want it. A **cap** is a ceiling in % of one pCPU.
#
# We double `web`'s weight, let it run, then cap `batch` at 20%.

# %%
host.xl("sched-credit")

# %%
t_weight = host.now
host.xl("sched-credit -d web -w 512")
host.run(ms=scaled(2000))
t_cap = host.now
host.xl("sched-credit -d batch -c 20")
host.run(ms=scaled(2000))
host.xl("sched-credit")

# %% [markdown]
# ## 4. CPU share over time
#
# Each line is a domain's CPU use in pCPUs (1.0 = one whole pCPU), averaged over short
# windows. The weight change happens at the first marker, the cap at the second.

# %% tags=["readme-figure"]
timeline = timeline_from_host(host)
fig = plots.share(timeline, bin_ms=scaled(2000) / 8)
ax = fig.axes[0]
for t, label in ((t_weight, "web -w 512"), (t_cap, "batch -c 20")):
    ax.axvline(t / 1e6, color="grey", linestyle="--")
    ax.annotate(label, (t / 1e6, ax.get_ylim()[1] * 0.95), fontsize="small")
ax.set_title("Lab 1: CPU share per domain as xl changes weights and caps")
fig

# %% [markdown]
# The run's totals, as `xensim run` prints them:

# %%
host.metrics()

# %% [markdown]
# ## 5. Mistakes are fine
#
# A typo gets the same message as on a real dom0, and nothing breaks:

# %%
host.xl("sched-credit -d nosuch -w 512")

# %%
host.xl("sched-credit -d web -w 0")

# %% [markdown]
# ## Questions
#
# 1. Before the weight change, `web` (2 vCPUs) and `batch` (1 vCPU) have equal weights
#    and all three vCPUs always want to run. How much of the 2 pCPUs does each domain
#    get? Why not one pCPU each? Could `batch` ever use more than one pCPU?
# 2. After `web -w 512`, predict each domain's share on the 2 pCPUs, then read it off
#    the plot. Does `web` get more than 2/3 of the machine? What limits it?
# 3. After `batch -c 20`, where does the CPU that `batch` no longer uses go?
# 4. `shell` uses 2% of a pCPU. Look at its wake-up latency in the metrics table. Why is
#    it so low with two CPU hogs around? (Lab 2 answers this.)
# 5. Try it: give `shell` a cap of 1 (`host.xl("sched-credit -d shell -c 1")`), run 2 s
#    and look at `shell`'s latency again.
