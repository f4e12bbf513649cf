// BPE module.
