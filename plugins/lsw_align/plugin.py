"""Plugin registration for lsw_align: the aligner "dlib-ffhq"."""

from lsw_core.plugins import hookimpl


def make_dlib_ffhq(**options):
    from lsw_align.aligner import DlibFfhqAligner

    return DlibFfhqAligner(**options)


@hookimpl
def register_aligners(register):
    register("dlib-ffhq", make_dlib_ffhq, description="dlib face detection + 68 landmarks, FFHQ crop (extra `faces`)")
