"""A stand-in for `torchvision.datasets.MNIST(root, train=True, download=True, transform=...)` in the
foreign scripts: the same (PIL image, label) items through the user's own transform, but from the
5,000-digit subset ganlint ships (ganlint.data only feeds the user's DataLoader; no downloads here).
"""

from __future__ import annotations

import torch
from PIL import Image

from ganlint.data import get_dataset


class MNIST(torch.utils.data.Dataset):
    def __init__(self, transform=None) -> None:
        digits = get_dataset("mnist")  # (N, 1, 28, 28) in [-1, 1]: back to the uint8 pixels torchvision hands out
        self.images = digits.data.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)[:, 0]
        self.targets = digits.labels
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        img = Image.fromarray(self.images[index].numpy(), mode="L")
        if self.transform is not None:
            img = self.transform(img)
        return img, int(self.targets[index])
