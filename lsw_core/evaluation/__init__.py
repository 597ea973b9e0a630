"""Measuring swaps: the metrics (`metrics`), a mixer on held-out latent pairs (`latent_pairs`), the
same judged by networks it may not have trained with (`judged`), and folders of (source, target,
swap) photo triples (`photo_triples`)."""

from lsw_core._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "lsw_core.evaluation.judged": ["judge_mixer", "held_out_z"],
        "lsw_core.evaluation.latent_pairs": ["evaluate_mixer"],
        "lsw_core.evaluation.photo_triples": ["evaluate_triples", "find_triples", "markdown_table"],
    },
)
