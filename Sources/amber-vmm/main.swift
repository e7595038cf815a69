import AmberVMM
// amber-vmm: one process per VM. The machine lands here with the VMM issue.
