# %% [markdown]
# # Lab 2 — The credit scheduler
#
# **Goal (45 min):** see the mechanisms of Xen's credit scheduler (`credit.c`, Xen's
# default for a decade) at work: **BOOST** for vCPUs that wake up, the **30 ms time
# slice**, the **1 ms rate limit**, a known weakness (**tick evasion**), and how
# **credit2** treats a latency-sensitive guest differently.
#
# Recap: every 30 ms credit hands out credits in proportion to weights; a running vCPU
# burns 10 credits per ms. A vCPU with credit left is UNDER, one in debt is OVER, and
# UNDER runs first. A vCPU that wakes from sleep while UNDER gets BOOST, the highest
# priority, until the next 10 ms tick finds it running.

# %%
from matplotlib.figure import Figure

from xensim.host import Host
from xensim.notebook.labs import scaled
from xensim.research import plots
from xensim.research.timeline import timeline_from_host


def waker_among_hogs(workload, scheduler="credit", hogs=3, ms=5000, trace=False):
    """One pCPU, *hogs* CPU hogs and a guest called "waker" running *workload*."""
    host = Host(pcpus=1, scheduler=scheduler, seed=1, trace=trace)
    for i in range(hogs):
        host.create(f"hog{i}", workload="cpu")
    host.create("waker", workload=workload)
    host.run(ms=scaled(ms), progress=True)
    return host


def wake_latency(host, name="waker"):
    return host.metrics()["domains"][name]["vcpus"][0]["wakeup_latency_us"]

# %% [markdown]
# ## 1. BOOST: a short sleeper preempts the hogs
#
# `waker` computes 0.2 ms every 10 ms. Watch a 60 ms window of the single pCPU.

# %%
host = waker_among_hogs("duty:busy_ms=0.2,idle_ms=10", hogs=2, ms=1000, trace=True)
plots.gantt(timeline_from_host(host), from_ms=host.now / 1e6 - 60)

# %%
wake_latency(host)

# %% [markdown]
# ## 2. The 30 ms slice
#
# Hogs never sleep, so they are only switched when their slice ends. Count context
# switches per simulated second with the default slice, then with a 5 ms one
# (`xl sched-credit -s -t 5`).

# %%
def switches_per_second(tslice_ms):
    host = Host(pcpus=1, seed=1)
    host.xl(f"sched-credit -s -t {tslice_ms}")
    for i in range(3):
        host.create(f"hog{i}", workload="cpu")
    host.run(ms=scaled(2000))
    m = host.metrics()
    return round(m["sched"]["context_switches"] / (m["duration_ns"] / 1e9))


{tslice: switches_per_second(tslice) for tslice in (30, 5)}

# %% [markdown]
# ## 3. The 1 ms rate limit
#
# A boosted vCPU may preempt a running one only once that one has run for
# `ratelimit_us` (1000 µs by default). Our waker now sleeps only 0.7 ms between 0.2 ms
# bursts, so it often wakes while a hog has just been scheduled. Compare its wake-up
# latency and the number of context switches with the rate limit on and off
# (`xl sched-credit -s -r 0`).

# %%
def rate_limit_run(ratelimit_us):
    host = Host(pcpus=1, seed=1)
    host.xl(f"sched-credit -s -r {ratelimit_us}")
    for i in range(2):
        host.create(f"hog{i}", workload="cpu")
    host.create("waker", workload="duty:busy_ms=0.2,idle_ms=0.7")
    host.run(ms=scaled(2000))
    return {**wake_latency(host), "switches": host.metrics()["sched"]["context_switches"]}


{r: rate_limit_run(r) for r in (1000, 0)}

# %% [markdown]
# ## 4. Tick evasion
#
# Credit charges a vCPU only when the 10 ms tick finds it running. A guest whose bursts
# always end before the tick is never charged. Its fair share among three hogs is 1/4.

# %%
def share_of_sly(workload):
    host = waker_among_hogs(workload, ms=5000)
    return round(host.metrics()["domains"]["waker"]["cpu_share"], 3)


{w: share_of_sly(w) for w in ("duty:busy_ms=5,idle_ms=5,phase=0",
                              "duty:busy_ms=7,idle_ms=7,phase=0")}

# %% [markdown]
# ## 5. Credit against credit2 for a guest that wants more than its share
#
# `waker` needs 1/3 of the pCPU (2 ms busy, 4 ms asleep) among three hogs: its fair share
# is 1/4. We plot the distribution (CDF) of its wake-up latencies under both schedulers.

# %% tags=["readme-figure"]
fig = Figure(figsize=(7, 4), layout="constrained")
ax = fig.add_subplot()
for scheduler in ("credit", "credit2"):
    host = waker_among_hogs("duty:busy_ms=2,idle_ms=4", scheduler=scheduler)
    samples = sorted(x / 1e6 for v in host.domain("waker").vcpus for x in v.wake_latencies)
    n = len(samples)
    ax.step(samples, [(i + 1) / n for i in range(n)], where="post",
            label=f"{scheduler} (n={n}, p99 {samples[int(0.99 * (n - 1))]:.1f} ms)")
ax.set_xscale("symlog", linthresh=0.1)
ax.set_xlabel("wake-up latency (ms)")
ax.set_ylabel("fraction of wake-ups ≤ x")
ax.set_title("Lab 2: a waker among three hogs, credit vs credit2")
ax.grid(alpha=0.3)
ax.legend(loc="lower right")
fig

# %% [markdown]
# ## Questions
#
# 1. In the Gantt chart of part 1, how long does `waker` wait after it wakes? Which
#    priority lets it jump ahead of the hogs, and when does it lose it?
# 2. Part 2: how many switches per second do three hogs cause with a 30 ms slice? With
#    5 ms? What does a shorter slice cost, and what does it buy?
# 3. Part 3: explain the p50 with the rate limit on. Without it the p50 drops to 0 but
#    the worst case explodes and the switches go up: why? Why did Xen add a rate limit
#    (think of a guest that wakes thousands of times a second)?
# 4. Part 4: the sly guest runs 50% of the time but should get 25%. Why does a 7 ms
#    burst not get away with it? How would you fix the scheduler?
# 5. Part 5: under credit, most wake-ups are fast but some take tens of ms. What happened
#    to the waker's BOOST? Why does credit2 not have this cliff?
