"""`python -m lsw_core ...` is the `lsw` command (also the module torchrun launches: `torchrun -m lsw_core train`)."""

from lsw_core.cli import main

if __name__ == "__main__":
    main()
