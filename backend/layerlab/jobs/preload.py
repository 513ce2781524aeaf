"""What the forkserver imports once so that every worker forked from it starts warm.

Importing this module pulls in torch, the modules torch imports lazily on a first optimizer step or
export (torch._dynamo alone takes seconds on a small CPU), and all of layerlab's training code.
Imports only: nothing is computed here, so the forkserver holds no thread pools when it forks.
The worker itself runs `worker.warm_up()` after the fork, while it waits idle for a job.
"""

from __future__ import annotations

import torch  # noqa: F401
import torch._dynamo  # noqa: F401  (imported by torch.optim.Optimizer.__init__ on first use)
import torch.onnx  # noqa: F401

from ..training import data, loop, run  # noqa: F401
from . import worker  # noqa: F401
