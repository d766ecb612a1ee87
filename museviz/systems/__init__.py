"""Every system's rule, one module per system family, each naming the code it was read from.

Importing ``museviz.rules`` imports this package, and each module registers its rules in
``museviz.rules.RULES`` (in the order below: the table, the CLI and the page list them so).
A new system is a new module here, added to the list.
"""

from museviz.systems import musetalk, latentsync, wav2lip, reference  # noqa: F401  (order: the first rules museviz had)
