"""The networks of eriklindernoren/PyTorch-GAN implementations/gan/gan.py, moved into a module of their own
so a saved state_dict can be loaded without running the script. The original reads the sizes from its
module-level `opt`; here they are the constructor's arguments, with the original's values as defaults
(`--kwargs '{"hidden": 128}'` for the widths a run used).

    ganlint check saved_models/generator_9.pth --generator gan_models.py:Generator \
        --discriminator gan_models.py:Discriminator --discriminator-file saved_models/discriminator_9.pth --data mnist
"""
# ruff: noqa: UP008  (written as its authors write it)
import numpy as np
import torch.nn as nn


class Generator(nn.Module):
    def __init__(self, latent_dim=100, img_shape=(1, 28, 28), hidden=128, normalize=True):
        super(Generator, self).__init__()
        self.img_shape = tuple(img_shape)

        def block(in_feat, out_feat, normalize=True):
            layers = [nn.Linear(in_feat, out_feat)]
            if normalize:
                layers.append(nn.BatchNorm1d(out_feat, 0.8))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers

        self.model = nn.Sequential(
            *block(latent_dim, hidden, normalize=False),
            *block(hidden, hidden * 2, normalize=normalize),
            *block(hidden * 2, hidden * 4, normalize=normalize),
            *block(hidden * 4, hidden * 8, normalize=normalize),
            nn.Linear(hidden * 8, int(np.prod(self.img_shape))),
            nn.Tanh()
        )

    def forward(self, z):
        img = self.model(z)
        img = img.view(img.size(0), *self.img_shape)
        return img


class Discriminator(nn.Module):
    def __init__(self, img_shape=(1, 28, 28), d_hidden=256, sigmoid=True):
        super(Discriminator, self).__init__()

        layers = [
            nn.Linear(int(np.prod(img_shape)), d_hidden * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(d_hidden * 2, d_hidden),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(d_hidden, 1),
        ]
        if sigmoid:  # wgan_gp.py's critic is the same network without it
            layers.append(nn.Sigmoid())
        self.model = nn.Sequential(*layers)

    def forward(self, img):
        img_flat = img.view(img.size(0), -1)
        validity = self.model(img_flat)

        return validity


class Critic(Discriminator):
    """wgan_gp.py's Discriminator: no sigmoid, a score."""

    def __init__(self, img_shape=(1, 28, 28), d_hidden=256):
        super(Critic, self).__init__(img_shape, d_hidden, sigmoid=False)
