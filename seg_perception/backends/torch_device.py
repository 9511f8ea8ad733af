"""Pick a torch device from the ``device`` parameter."""

import torch

from seg_perception.backends.base import BackendError


def select_device(requested: str) -> torch.device:
    """Return the torch device for ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.

    ``'auto'`` takes the first CUDA device when one is usable and the CPU otherwise.

    Raises:
        BackendError: CUDA was asked for and is not available, or the string is malformed.

    """
    requested = (requested or 'auto').strip().lower()
    if requested == 'auto':
        return torch.device('cuda:0' if torch.cuda.is_available() else 'cpu')
    if requested == 'cpu':
        return torch.device('cpu')
    if requested == 'cuda' or requested.startswith('cuda:'):
        if not torch.cuda.is_available():
            raise BackendError(f'device {requested!r} asked for but CUDA is not available')
        device = torch.device(requested)
        index = 0 if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise BackendError(
                f'device {requested!r} asked for but only {torch.cuda.device_count()} '
                'CUDA device(s) exist')
        return device
    raise BackendError(f'device must be auto, cpu, cuda or cuda:N, got {requested!r}')
