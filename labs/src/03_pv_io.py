# %% [markdown]
# # Lab 3 — Paravirtual I/O: event channels, grant tables, rings
#
# **Goal (45 min):** follow a packet of a PV guest through Xen's split drivers, count the
# machinery it uses, and see what happens to the guest's network latency when
# **Domain-0**, which runs the backends, does not get the CPU (Ongaro et al., VEE 2008).
#
# A PV guest's *netfront* puts a request on a ring shared with dom0, *grants* dom0 access
# to the page, and kicks an **event channel**. dom0's *netback* runs only when Xen
# schedules one of dom0's vCPUs: it copies the grant, sends the packet, answers on the
# ring and notifies back.

# %%
from matplotlib.figure import Figure

from xensim.host import Host
from xensim.notebook.labs import scaled

# %% [markdown]
# ## 1. Devices are negotiated through xenstore
#
# A guest with a network interface and a disk. After boot, both frontends are
# `Connected` (state 4) with the backends in dom0.

# %%
host = Host(pcpus=2, seed=1)
host.create("guest", vif=["bridge=xenbr0"], disk=["/dev/vg0/guest,raw,xvda,rw"],
            workload="ping:rate=1000")
host.run(ms=scaled(1000))
host.xl("network-list guest")

# %%
host.xl("block-list guest")

# %%
host.xl("xenstore-ls /local/domain/1/device/vif/0")

# %% [markdown]
# ## 2. What one ping costs
#
# An external client pings the guest 1000 times a second. Count the hypercalls, event
# channel sends and grant operations of the guest and of dom0.

# %%
m = host.metrics()
for name in ("guest", "Domain-0"):
    d = m["domains"][name]
    print(f"{name:9s} hypercalls={d.get('hypercalls', {})}")
    print(f"{'':9s} evtchn sends={d.get('evtchn_sends', 0)} grant ops={d.get('grant_ops', 0)}")
print("pings answered:", m["domains"]["guest"]["io"]["ops"],
      "latency µs:", m["domains"]["guest"]["io"]["latency_us"])

# %% [markdown]
# ## 3. Rings batch notifications
#
# A disk reader with 32 requests in flight puts them all on the ring and kicks once;
# one with a single request in flight kicks for each.

# %%
def sends_per_request(depth):
    host = Host(pcpus=2, seed=1)
    host.create("reader", workload=f"disk:pattern=seq,depth={depth}")
    host.run(ms=scaled(500))
    d = host.metrics()["domains"]["reader"]
    return round(d.get("evtchn_sends", 0) / max(1, d["io"]["ops"]), 3)


{depth: sends_per_request(depth) for depth in (1, 32)}

# %% [markdown]
# ## 4. Starve dom0
#
# One pCPU shared by dom0, the pinged guest and two CPU hogs. dom0 needs little CPU, but
# needs it *soon*. We cap it or cut its weight with `xl sched-credit -d Domain-0 ...`.

# %%
def ping_latency(dom0_option):
    host = Host(pcpus=1, seed=1)
    if dom0_option:
        rc, out, err = host.xl(f"sched-credit -d Domain-0 {dom0_option}")
        assert rc == 0, err
    host.create("guest", workload="ping:rate=1000")
    host.create("hog1", workload="cpu")
    host.create("hog2", workload="cpu")
    host.run(ms=scaled(1500), progress=True)
    m = host.metrics()["domains"]
    return {"p50_us": m["guest"]["io"]["latency_us"]["p50"],
            "p99_us": m["guest"]["io"]["latency_us"]["p99"],
            "answered": m["guest"]["io"]["ops"],
            "dom0_cpu_%": round(100 * m["Domain-0"]["cpu_share"], 2)}


settings = {"default": "", "cap 5%": "-c 5", "cap 1%": "-c 1", "weight 1": "-w 1"}
results = {label: ping_latency(opt) for label, opt in settings.items()}
results

# %% tags=["readme-figure"]
fig = Figure(figsize=(9, 4), layout="constrained")
lat, done = fig.subplots(1, 2, width_ratios=[2, 1])
labels = list(results)
x = range(len(labels))
lat.bar([i - 0.2 for i in x], [max(results[k]["p50_us"], 1) / 1000 for k in labels], 0.4,
        label="p50")
lat.bar([i + 0.2 for i in x], [max(results[k]["p99_us"], 1) / 1000 for k in labels], 0.4,
        label="p99")
lat.set_xticks(list(x), [f"dom0\n{k}" for k in labels])
lat.set_yscale("log")
lat.set_ylabel("latency of answered pings (ms, log)")
lat.legend()
lat.grid(alpha=0.3, axis="y")
sent = max(r["answered"] for r in results.values())
done.bar(list(x), [100 * results[k]["answered"] / sent for k in labels], color="grey")
done.set_xticks(list(x), [f"dom0\n{k}" for k in labels])
done.set_ylabel("pings answered (% of the best)")
fig.suptitle("Lab 3: a PV guest's ping when dom0 is starved (1 pCPU, 2 CPU hogs)")
fig

# %% [markdown]
# ## Questions
#
# 1. Part 1: which xenstore keys does the frontend publish for its backend to read?
#    Which domain writes `state`?
# 2. Part 2: list the hypercalls a ping costs the guest. Why does dom0 make grant
#    operations but the guest does not?
# 3. Part 3: why does a deep queue need fewer event sends per request? What do the ring's
#    `req_event` / `rsp_event` fields do?
# 4. Part 4: dom0 uses about 1–2% of the pCPU. Why does a 5% cap already hurt the p99,
#    and a 1% cap ruin the latency? With weight 1 the answered pings look fast, yet most
#    pings are never answered: why are both true? Which credit mechanism normally saves
#    dom0?
# 5. What would you change on a real host so that I/O stays fast while guests are busy?
#    (Think of dom0's weight, pinning dom0 to its own pCPUs, cpupools.)
