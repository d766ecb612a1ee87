"""The one exception museviz shows to users."""


class MusevizError(Exception):
    """A problem with the user's input, told in one sentence that says what to do.

    Interfaces print ``str(error)`` as is (CLI: ``museviz: error: ...``, app: ``gr.Error``);
    no traceback is shown for it.
    """
