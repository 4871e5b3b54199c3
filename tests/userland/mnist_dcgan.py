"""A user's DCGAN on MNIST, written the way pytorch/examples dcgan/main.py writes it (plain PyTorch, no
ganlint), sized for 28x28 grey digits as users adapt it: G takes z of shape (N, nz, 1, 1) through
ConvTranspose2d layers with BatchNorm and ReLU to a tanh image; D is a conv net with LeakyReLU 0.2,
BatchNorm and a sigmoid; weights_init draws conv weights from N(0, 0.02) and BatchNorm weights from
N(1, 0.02); BCELoss with the D loss summed over two backward calls; Adam 2e-4 (0.5, 0.999). It prints
the tutorial's line every iteration and saves netG_epoch_N.pth / netD_epoch_N.pth state_dicts.

The classes take `ngpu` as the tutorial's do: `ganlint check netG_epoch_0.pth --generator
mnist_dcgan.py:Generator --discriminator mnist_dcgan.py:Discriminator --kwargs '{"ngpu": 1}'
--discriminator-file netD_epoch_0.pth --data mnist`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

nz, ngf, ndf, nc = 100, 64, 64, 1


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self, ngpu):
        super().__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            # input is Z, going into a convolution
            nn.ConvTranspose2d(nz, ngf * 4, 7, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            # state size. (ngf*4) x 7 x 7
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            # state size. (ngf*2) x 14 x 14
            nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
            # state size. (nc) x 28 x 28
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self, ngpu):
        super().__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            # input is (nc) x 28 x 28
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf) x 14 x 14
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*2) x 7 x 7
            nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)


def train(images: torch.Tensor, iterations: int, out_dir: Path, seed: int = 0, batch_size: int = 64) -> dict[str, Path]:
    """Train for `iterations` batches on images (N, 1, 28, 28) in [-1, 1]; save and return the two files."""
    torch.manual_seed(seed)
    netG = Generator(1)
    netG.apply(weights_init)
    netD = Discriminator(1)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    real_label, fake_label = 1.0, 0.0
    optimizerD = torch.optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    dataloader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images), batch_size=batch_size,
                                             shuffle=True, drop_last=True)
    niter = max(1, -(-iterations // len(dataloader)))
    done = 0
    for epoch in range(niter):
        for i, data in enumerate(dataloader, 0):
            ############################
            # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
            ###########################
            netD.zero_grad()
            real_cpu = data[0]
            b_size = real_cpu.size(0)
            label = torch.full((b_size,), real_label, dtype=real_cpu.dtype)
            output = netD(real_cpu)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()

            noise = torch.randn(b_size, nz, 1, 1)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach())
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()

            ############################
            # (2) Update G network: maximize log(D(G(z)))
            ###########################
            netG.zero_grad()
            label.fill_(real_label)  # fake labels are real for generator cost
            output = netD(fake)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()

            print(f"[{epoch}/{niter}][{i}/{len(dataloader)}] Loss_D: {errD.item():.4f} Loss_G: {errG.item():.4f} "
                  f"D(x): {D_x:.4f} D(G(z)): {D_G_z1:.4f} / {D_G_z2:.4f}")
            done += 1
            if done >= iterations:
                break
        # do checkpointing
        out_dir.mkdir(parents=True, exist_ok=True)
        torch.save(netG.state_dict(), out_dir / f"netG_epoch_{epoch}.pth")
        torch.save(netD.state_dict(), out_dir / f"netD_epoch_{epoch}.pth")
        if done >= iterations:
            break
    return {"generator": out_dir / f"netG_epoch_{epoch}.pth", "discriminator": out_dir / f"netD_epoch_{epoch}.pth"}
