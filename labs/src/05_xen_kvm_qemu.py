# %% [markdown]
# # Lab 5 — Xen, KVM and QEMU
#
# **Goal (45 min):** answer the two questions that tell hypervisors apart — *who
# schedules the vCPUs?* and *who emulates the devices?* — by running one workload on each.
#
# - **Xen**: a hypervisor below every OS, dom0 included; it schedules vCPUs itself
#   (credit); devices are PV backends in dom0, or qemu in dom0 for HVM guests.
# - **KVM**: a module of the host Linux; each vCPU is a thread of a QEMU process that
#   Linux's CFS schedules beside every other task; QEMU emulates devices on the vCPU's
#   own thread, or virtio queues are served in the kernel (vhost).
# - **QEMU alone (TCG)**: no hardware help, every guest instruction is translated.

# %%
from matplotlib.figure import Figure

from xensim.compare.measure import Setup, compare
from xensim.compare.modes import BREAKDOWN
from xensim.compare.table import print_table
from xensim.host import Host
from xensim.notebook.labs import scaled

SECONDS = scaled(300) / 1000

# %% [markdown]
# ## 1. Who schedules?
#
# On a KVM host, domain 0 is the host itself, and Pool-0 runs Linux's CFS.

# %%
kvm = Host(pcpus=2, hypervisor="kvm", seed=1)
kvm.create("vm1", type="hvm", vcpus=2, workload="cpu")
kvm.create("vm2", type="hvm", workload="cpu")
kvm.run(ms=scaled(1000))
print(kvm.xl("list"))
print(kvm.xl("cpupool-list"))

# %% [markdown]
# Xen's scheduler commands do not apply, and a PV guest cannot run without Xen:

# %%
kvm.xl("sched-credit")

# %%
kvm.xl("create ../configs/pv-guest.cfg")

# %% [markdown]
# ## 2. Who emulates? One disk workload across the kinds

# %%
kinds = ["xen-pv", "xen-hvm", "xen-pvhvm", "kvm", "kvm-virtio", "qemu-tcg"]
disk = compare(Setup(workload="disk", seconds=SECONDS), kinds, key="kinds")
print_table(disk, key="kinds")

# %% tags=["readme-figure"]
names = list(disk["kinds"])
fig = Figure(figsize=(8, 4), layout="constrained")
ax = fig.add_subplot()
bottom = [0.0] * len(names)
labels = {"guest": "guest", "hypervisor": "Xen / KVM / TCG", "dom0": "dom0 / host tasks",
          "device_model": "QEMU"}
for part in BREAKDOWN:
    heights = [disk["kinds"][n]["cpu_ns"][part] / 1e6 / max(disk["kinds"][n]["ops"], 1) * 1000
               for n in names]
    ax.bar(names, heights, bottom=bottom, label=labels[part])
    bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
ax.set_ylabel("CPU ms per 1000 reads")
ax.set_title("Lab 5: one disk workload on Xen, KVM and QEMU: who spends the time")
ax.legend(fontsize="small")
fig

# %% [markdown]
# ## 3. A foreign architecture
#
# Only QEMU's TCG can run an aarch64 guest on an x86_64 host.

# %%
tcg = compare(Setup(workload="kernel-build", seconds=SECONDS), ["qemu-tcg"], key="kinds")
arm = compare(Setup(workload="kernel-build", seconds=SECONDS,
                    guest_keys={"guest_arch": "aarch64"}), ["qemu-tcg"], key="kinds")
{"x86_64 guest ops/s": round(tcg["kinds"]["qemu-tcg"]["throughput"]),
 "aarch64 guest ops/s": round(arm["kinds"]["qemu-tcg"]["throughput"])}

# %% [markdown]
# ## Questions
#
# 1. Part 1: on the KVM host, what competes with a guest's vCPU for a pCPU? On Xen?
# 2. Part 2: an emulated disk read on Xen HVM goes through dom0; on KVM it does not
#    leave the vCPU's thread. Find that difference in the table (which columns?).
# 3. Why is `kvm-virtio` close to `xen-pv`? What do virtio's virtqueues and Xen's rings
#    have in common, and what replaces grant tables?
# 4. Why does `qemu-tcg` spend most of its time in `guest`, and what makes it slower for
#    the aarch64 guest?
# 5. Which would you pick for: a cloud of Linux guests; a desktop running a Windows VM;
#    testing an ARM firmware on a laptop? Why?
