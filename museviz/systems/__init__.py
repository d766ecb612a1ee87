"""Every system's rule, one module per system family, each naming the code it was read from.

Importing ``museviz.rules`` imports this package, and each module registers its rules in
``museviz.rules.RULES`` (in the order below: the table, the CLI and the page list them so).
A new system is a new module here, added to the list.
"""

from museviz.systems import (  # noqa: F401
    musetalk,
    latentsync,
    wav2lip,
    reference,
    hallo,
    memo,
    float_,
    vexpress,
    sonic,
    echomimic,
    joyvasa,
    aniportrait,
    sadtalker,
    dinet,
    iplap,
    diff2lip,
    talklip,
    nerf,
    makeittalk,
    pcavs,
    livetalking,
)
