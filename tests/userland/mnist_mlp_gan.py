"""A user's MNIST GAN, written the way eriklindernoren/PyTorch-GAN's implementations/gan/gan.py writes it
(plain PyTorch, no ganlint): an MLP G with BatchNorm1d(out, 0.8) blocks and a tanh output, an MLP D
ending in a sigmoid, BCELoss, Adam 2e-4 (0.5, 0.999), batch 64, latent 100; G's step first, then D's
with d_loss = (real + fake) / 2. It prints the PyTorch-GAN line every batch and, as users add to it,
saves the two state_dicts side by side (generator.pth, discriminator.pth).

`ganlint check generator.pth --generator mnist_mlp_gan.py:Generator --discriminator
mnist_mlp_gan.py:Discriminator --discriminator-file discriminator.pth --data mnist` reads them back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

IMG_SHAPE = (1, 28, 28)
LATENT_DIM = 100


class Generator(nn.Module):
    def __init__(self, latent_dim: int = LATENT_DIM) -> None:
        super().__init__()

        def block(in_feat, out_feat, normalize=True):
            layers = [nn.Linear(in_feat, out_feat)]
            if normalize:
                layers.append(nn.BatchNorm1d(out_feat, 0.8))  # (sic) 0.8 is eps, as in the original
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers

        self.model = nn.Sequential(
            *block(latent_dim, 128, normalize=False),
            *block(128, 256),
            *block(256, 512),
            *block(512, 1024),
            nn.Linear(1024, int(np.prod(IMG_SHAPE))),
            nn.Tanh(),
        )

    def forward(self, z):
        img = self.model(z)
        return img.view(img.size(0), *IMG_SHAPE)


class Discriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Linear(int(np.prod(IMG_SHAPE)), 512),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(512, 256),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(256, 1),
            nn.Sigmoid(),
        )

    def forward(self, img):
        return self.model(img.view(img.size(0), -1))


def train(images: torch.Tensor, iterations: int, out_dir: Path, seed: int = 0, batch_size: int = 64) -> dict[str, Path]:
    """Train for `iterations` batches on images (N, 1, 28, 28) in [-1, 1]; save and return the two files."""
    torch.manual_seed(seed)
    generator, discriminator = Generator(), Discriminator()
    adversarial_loss = nn.BCELoss()
    optimizer_G = torch.optim.Adam(generator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=0.0002, betas=(0.5, 0.999))
    dataloader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images), batch_size=batch_size,
                                             shuffle=True, drop_last=True)
    batches_done = 0
    epoch = 0
    while batches_done < iterations:
        for i, (imgs,) in enumerate(dataloader):
            valid = torch.ones(imgs.size(0), 1)
            fake = torch.zeros(imgs.size(0), 1)
            real_imgs = imgs

            optimizer_G.zero_grad()
            z = torch.randn(imgs.shape[0], LATENT_DIM)
            gen_imgs = generator(z)
            g_loss = adversarial_loss(discriminator(gen_imgs), valid)
            g_loss.backward()
            optimizer_G.step()

            optimizer_D.zero_grad()
            real_loss = adversarial_loss(discriminator(real_imgs), valid)
            fake_loss = adversarial_loss(discriminator(gen_imgs.detach()), fake)
            d_loss = (real_loss + fake_loss) / 2
            d_loss.backward()
            optimizer_D.step()

            print(f"[Epoch {epoch}] [Batch {i}/{len(dataloader)}] [D loss: {d_loss.item():f}] [G loss: {g_loss.item():f}]")
            batches_done += 1
            if batches_done >= iterations:
                break
        epoch += 1
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"generator": out_dir / "generator.pth", "discriminator": out_dir / "discriminator.pth"}
    torch.save(generator.state_dict(), files["generator"])
    torch.save(discriminator.state_dict(), files["discriminator"])
    return files
