"""FID (Fréchet Inception distance) of swaps against their targets, with Inception weights the user
brings: `lsw fid --mixer DIR --inception pt_inception-2015-12-05-6726825d.pth`."""
