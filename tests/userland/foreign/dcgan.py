"""pytorch/examples dcgan/main.py as a user runs it on MNIST at 32 px (its `transforms.Resize(imageSize)`),
with the few flags users add when they tinker: --lrD/--lrG (one learning rate each), --saturating (the
original minimax G loss), --iters (stop early), and --ganlint-monitor DIR (ganlint.Monitor's three
lines). The models live in dcgan_models.py so a checkpoint can be loaded without running this file.

    python dcgan.py --niter 5 --ngf 16 --ndf 16 --outf out --manualSeed 1 > train.log
"""
# ruff: noqa: I001, SIM105, UP010, UP031  (written as its authors write it)
from __future__ import print_function
import argparse
import os
import random
import sys
import torch
import torch.nn as nn
import torch.optim as optim
import torch.utils.data
import torchvision.transforms as transforms
import torchvision.utils as vutils

from dcgan_models import Discriminator, Generator, weights_init
from mnist_subset import MNIST  # stands in for dset.MNIST(root=opt.dataroot, download=True, ...)


parser = argparse.ArgumentParser()
parser.add_argument('--dataset', default='mnist', help='mnist (the only one here)')
parser.add_argument('--workers', type=int, help='number of data loading workers', default=2)
parser.add_argument('--batchSize', type=int, default=64, help='input batch size')
parser.add_argument('--imageSize', type=int, default=32, help='the height / width of the input image to network')
parser.add_argument('--nz', type=int, default=100, help='size of the latent z vector')
parser.add_argument('--ngf', type=int, default=64)
parser.add_argument('--ndf', type=int, default=64)
parser.add_argument('--niter', type=int, default=25, help='number of epochs to train for')
parser.add_argument('--lr', type=float, default=0.0002, help='learning rate, default=0.0002')
parser.add_argument('--lrD', type=float, default=None, help="D's learning rate (default: --lr)")
parser.add_argument('--lrG', type=float, default=None, help="G's learning rate (default: --lr)")
parser.add_argument('--beta1', type=float, default=0.5, help='beta1 for adam. default=0.5')
parser.add_argument('--saturating', action='store_true', help='G minimises log(1 - D(G(z))) (the minimax loss)')
parser.add_argument('--iters', type=int, default=None, help='stop after this many iterations in all')
parser.add_argument('--dry-run', action='store_true', help='check a single training cycle works')
parser.add_argument('--ngpu', type=int, default=1, help='number of GPUs to use')
parser.add_argument('--outf', default='.', help='folder to output images and model checkpoints')
parser.add_argument('--manualSeed', type=int, help='manual seed')
parser.add_argument('--ganlint-monitor', default='', help='folder for ganlint.Monitor to save its run in')

opt = parser.parse_args()
print(opt)

try:
    os.makedirs(opt.outf)
except OSError:
    pass

if opt.manualSeed is None:
    opt.manualSeed = random.randint(1, 10000)
print("Random Seed: ", opt.manualSeed)
random.seed(opt.manualSeed)
torch.manual_seed(opt.manualSeed)

dataset = MNIST(transform=transforms.Compose([
                    transforms.Resize(opt.imageSize),
                    transforms.ToTensor(),
                    transforms.Normalize((0.5,), (0.5,)),
                ]))
nc = 1

dataloader = torch.utils.data.DataLoader(dataset, batch_size=opt.batchSize,
                                         shuffle=True, num_workers=int(opt.workers))

device = torch.device("cpu")
ngpu = int(opt.ngpu)
nz = int(opt.nz)
ngf = int(opt.ngf)
ndf = int(opt.ndf)

netG = Generator(ngpu, nz=nz, ngf=ngf, nc=nc).to(device)
netG.apply(weights_init)
print(netG)

netD = Discriminator(ngpu, ndf=ndf, nc=nc).to(device)
netD.apply(weights_init)
print(netD)

criterion = nn.BCELoss()

fixed_noise = torch.randn(opt.batchSize, nz, 1, 1, device=device)
real_label = 1
fake_label = 0

# setup optimizer
optimizerD = optim.Adam(netD.parameters(), lr=opt.lrD or opt.lr, betas=(opt.beta1, 0.999))
optimizerG = optim.Adam(netG.parameters(), lr=opt.lrG or opt.lr, betas=(opt.beta1, 0.999))

if opt.ganlint_monitor:
    import ganlint
    mon = ganlint.Monitor(netG, netD, optimizerG, optimizerD, outputs="probability")

if opt.dry_run:
    opt.niter = 1

done = 0
for epoch in range(opt.niter):
    for i, data in enumerate(dataloader, 0):
        ############################
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        ###########################
        # train with real
        netD.zero_grad()
        real_cpu = data[0].to(device)
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), real_label,
                           dtype=real_cpu.dtype, device=device)

        output = netD(real_cpu)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()

        # train with fake
        noise = torch.randn(batch_size, nz, 1, 1, device=device)
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
        output = netD(fake)
        if opt.saturating:
            label.fill_(fake_label)
            errG = -criterion(output, label)  # minimize log(1 - D(G(z))), as in the paper
        else:
            label.fill_(real_label)  # fake labels are real for generator cost
            errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        optimizerG.step()

        print('[%d/%d][%d/%d] Loss_D: %.4f Loss_G: %.4f D(x): %.4f D(G(z)): %.4f / %.4f'
              % (epoch, opt.niter, i, len(dataloader),
                 errD.item(), errG.item(), D_x, D_G_z1, D_G_z2))
        if opt.ganlint_monitor:
            mon.step(loss_d=errD, loss_g=errG, d_real=D_x, d_fake=D_G_z1, fake=fake, real=real_cpu)
        if i % 100 == 0:
            vutils.save_image(real_cpu,
                    '%s/real_samples.png' % opt.outf,
                    normalize=True)
            fake = netG(fixed_noise)
            vutils.save_image(fake.detach(),
                    '%s/fake_samples_epoch_%03d.png' % (opt.outf, epoch),
                    normalize=True)

        done += 1
        if opt.dry_run or (opt.iters and done >= opt.iters):
            break
    # do checkpointing
    torch.save(netG.state_dict(), '%s/netG_epoch_%d.pth' % (opt.outf, epoch))
    torch.save(netD.state_dict(), '%s/netD_epoch_%d.pth' % (opt.outf, epoch))
    if opt.iters and done >= opt.iters:
        break

if opt.ganlint_monitor:
    print("ganlint.Monitor label:", mon.diagnose().label, file=sys.stderr)
    mon.save(opt.ganlint_monitor)
