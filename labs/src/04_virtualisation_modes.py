# %% [markdown]
# # Lab 4 — PV, HVM, PVH and PVHVM on the same workload
#
# **Goal (45 min):** run one workload under each way Xen can host a guest and find out
# where the machine's time goes.
#
# | mode | CPU and memory | devices |
# |---|---|---|
# | **PV** | the guest kernel knows it runs on Xen: hypercalls instead of privileged instructions | PV drivers (netfront/blkfront) |
# | **HVM** | hardware virtualisation (VT-x/EPT): the guest runs unmodified, Xen is entered by VM exits | emulated by qemu in dom0 (IDE disk, e1000 NIC) |
# | **PVHVM** | HVM | PV drivers |
# | **PVH** | HVM container without qemu at all | PV drivers |
#
# `xensim compare` runs the same workload, with the same seed, under each mode.

# %%
from matplotlib.figure import Figure

from xensim.compare.measure import Setup, compare
from xensim.compare.modes import BREAKDOWN
from xensim.compare.table import print_table
from xensim.notebook.labs import scaled

SECONDS = scaled(500) / 1000  # measured simulated time per mode

# %% [markdown]
# ## 1. Sequential 4 KiB disk reads

# %%
disk = compare(Setup(workload="disk:pattern=seq", seconds=SECONDS),
               ["pv", "pvh", "hvm", "pvhvm"])
print_table(disk)

# %% [markdown]
# The columns: `guest` is the guest's own code; `Xen` hypercalls, VM exits and their
# handling; `dom0` the backends; `qemu` the device model. Per read:

# %%
for mode, m in disk["modes"].items():
    ops = max(m["ops"], 1)
    print(f"{mode:6s} VM exits/read {m['counts']['vmexits'] / ops:5.1f}   "
          f"hypercalls/read {m['counts']['hypercalls'] / ops:5.1f}   "
          f"host CPU µs/read {sum(m['cpu_ns'].values()) / ops / 1000:6.1f}")

# %% [markdown]
# ## 2. Where the time goes
#
# CPU time per thousand reads, split by who spent it.

# %% tags=["readme-figure"]
def stacked(result, key="modes", title=""):
    names = list(result[key])
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.add_subplot()
    bottom = [0.0] * len(names)
    for part in BREAKDOWN:
        heights = [result[key][n]["cpu_ns"][part] / 1e6 / max(result[key][n]["ops"], 1) * 1000
                   for n in names]
        ax.bar(names, heights, bottom=bottom, label=part)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel("CPU ms per 1000 reads")
    ax.set_title(title)
    ax.legend()
    return fig


stacked(disk, title="Lab 4: where a 4 KiB disk read's CPU time goes, per mode")

# %% [markdown]
# ## 3. Page tables: shadow paging against HAP
#
# `pagetable` forks and exits processes: page-table writes and page faults. A PV guest
# asks Xen to validate its page-table writes (`mmu_update`); with hardware-assisted
# paging (HAP, EPT) an HVM guest writes its own tables; without it (`hap = 0`, shadow
# paging) Xen traps every write.

# %%
pagetable = compare(Setup(workload="pagetable", seconds=SECONDS / 2),
                    ["pv", "pvh", "hvm", "hvm-shadow"])
print_table(pagetable)

# %% [markdown]
# ## 4. A starved dom0
#
# Two CPU hogs and dom0 at weight 1: every emulated access waits for dom0 (qemu) to run.

# %%
starved = compare(Setup(workload="disk", seconds=SECONDS, hogs=2, dom0_weight=1),
                  ["pv", "hvm"])
print_table(starved)

# %% [markdown]
# ## Questions
#
# 1. Part 1: how many VM exits does one emulated (HVM) disk read take? Which device
#    registers does the IDE driver touch for one DMA read? Why does PVHVM need almost none?
# 2. Part 2: which component dominates the cost of an emulated read? Why does it run in
#    dom0 and not in Xen?
# 3. PVH and PVHVM give the same numbers here. What would differ between them at boot?
# 4. Part 3: rank the modes for `pagetable`. Why is HAP faster than PV here, and shadow
#    paging the slowest? When would shadow paging still be the better choice?
# 5. Part 4: why does a starved dom0 hurt the emulated disk far more than the PV disk?
