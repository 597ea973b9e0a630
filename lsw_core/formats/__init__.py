"""File formats: lsw's own (safetensors files and folders with a JSON config, written atomically)
and the checkpoints users bring (torch files, NVIDIA network pickles, Lightning checkpoints), each
read without running code from the file and within bounds on what it can make a loader build."""
