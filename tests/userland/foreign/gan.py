"""eriklindernoren/PyTorch-GAN implementations/gan/gan.py as a user runs it on MNIST, with the lines users
add: a state_dict per epoch (saved_models/), a seed, --lr_g/--lr_d, --saturating (the original minimax
G loss), --hidden/--d_hidden/--no_bn (sizes), --max_batches (stop early) and --ganlint-monitor DIR
(ganlint.Monitor's three lines). The models live in gan_models.py.

    python gan.py --n_epochs 10 --seed 1 > train.log
"""
# ruff: noqa: I001, F401, SIM210, UP031  (written as its authors write it)
import argparse
import os
import sys
import numpy as np

import torchvision.transforms as transforms
from torchvision.utils import save_image

from torch.utils.data import DataLoader
from torch.autograd import Variable

import torch

from gan_models import Discriminator, Generator
from mnist_subset import MNIST  # stands in for datasets.MNIST("../../data/mnist", train=True, download=True, ...)

os.makedirs("images", exist_ok=True)
os.makedirs("saved_models", exist_ok=True)

parser = argparse.ArgumentParser()
parser.add_argument("--n_epochs", type=int, default=200, help="number of epochs of training")
parser.add_argument("--batch_size", type=int, default=64, help="size of the batches")
parser.add_argument("--lr", type=float, default=0.0002, help="adam: learning rate")
parser.add_argument("--lr_g", type=float, default=None, help="G's learning rate (default: --lr)")
parser.add_argument("--lr_d", type=float, default=None, help="D's learning rate (default: --lr)")
parser.add_argument("--b1", type=float, default=0.5, help="adam: decay of first order momentum of gradient")
parser.add_argument("--b2", type=float, default=0.999, help="adam: decay of first order momentum of gradient")
parser.add_argument("--n_cpu", type=int, default=8, help="number of cpu threads to use during batch generation")
parser.add_argument("--latent_dim", type=int, default=100, help="dimensionality of the latent space")
parser.add_argument("--img_size", type=int, default=28, help="size of each image dimension")
parser.add_argument("--channels", type=int, default=1, help="number of image channels")
parser.add_argument("--sample_interval", type=int, default=400, help="interval betwen image samples")
parser.add_argument("--hidden", type=int, default=128, help="G's first hidden width (then x2, x4, x8)")
parser.add_argument("--d_hidden", type=int, default=256, help="D's last hidden width (the first is twice it)")
parser.add_argument("--no_bn", action="store_true", help="no BatchNorm in G")
parser.add_argument("--saturating", action="store_true", help="G minimises log(1 - D(G(z))) (the minimax loss)")
parser.add_argument("--max_batches", type=int, default=None, help="stop after this many batches in all")
parser.add_argument("--seed", type=int, default=None)
parser.add_argument("--ganlint-monitor", default="", help="folder for ganlint.Monitor to save its run in")
opt = parser.parse_args()
print(opt)

if opt.seed is not None:
    np.random.seed(opt.seed)
    torch.manual_seed(opt.seed)

img_shape = (opt.channels, opt.img_size, opt.img_size)

cuda = True if torch.cuda.is_available() else False
cuda = False  # CPU here

# Loss function
adversarial_loss = torch.nn.BCELoss()

# Initialize generator and discriminator
generator = Generator(opt.latent_dim, img_shape, hidden=opt.hidden, normalize=not opt.no_bn)
discriminator = Discriminator(img_shape, d_hidden=opt.d_hidden)

# Configure data loader
dataloader = torch.utils.data.DataLoader(
    MNIST(
        transform=transforms.Compose(
            [transforms.Resize(opt.img_size), transforms.ToTensor(), transforms.Normalize([0.5], [0.5])]
        ),
    ),
    batch_size=opt.batch_size,
    shuffle=True,
)

# Optimizers
optimizer_G = torch.optim.Adam(generator.parameters(), lr=opt.lr_g or opt.lr, betas=(opt.b1, opt.b2))
optimizer_D = torch.optim.Adam(discriminator.parameters(), lr=opt.lr_d or opt.lr, betas=(opt.b1, opt.b2))

Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor

if opt.ganlint_monitor:
    import ganlint
    mon = ganlint.Monitor(generator, discriminator, optimizer_G, optimizer_D, outputs="probability")

# ----------
#  Training
# ----------

batches = 0
for epoch in range(opt.n_epochs):
    for i, (imgs, _) in enumerate(dataloader):

        # Adversarial ground truths
        valid = Variable(Tensor(imgs.size(0), 1).fill_(1.0), requires_grad=False)
        fake = Variable(Tensor(imgs.size(0), 1).fill_(0.0), requires_grad=False)

        # Configure input
        real_imgs = Variable(imgs.type(Tensor))

        # -----------------
        #  Train Generator
        # -----------------

        optimizer_G.zero_grad()

        # Sample noise as generator input
        z = Variable(Tensor(np.random.normal(0, 1, (imgs.shape[0], opt.latent_dim))))

        # Generate a batch of images
        gen_imgs = generator(z)

        # Loss measures generator's ability to fool the discriminator
        if opt.saturating:
            g_loss = -adversarial_loss(discriminator(gen_imgs), fake)  # minimise log(1 - D(G(z)))
        else:
            g_loss = adversarial_loss(discriminator(gen_imgs), valid)

        g_loss.backward()
        optimizer_G.step()

        # ---------------------
        #  Train Discriminator
        # ---------------------

        optimizer_D.zero_grad()

        # Measure discriminator's ability to classify real from generated samples
        d_real = discriminator(real_imgs)
        real_loss = adversarial_loss(d_real, valid)
        d_fake = discriminator(gen_imgs.detach())
        fake_loss = adversarial_loss(d_fake, fake)
        d_loss = (real_loss + fake_loss) / 2

        d_loss.backward()
        optimizer_D.step()

        print(
            "[Epoch %d/%d] [Batch %d/%d] [D loss: %f] [G loss: %f]"
            % (epoch, opt.n_epochs, i, len(dataloader), d_loss.item(), g_loss.item())
        )
        if opt.ganlint_monitor:
            mon.step(loss_d=d_loss, loss_g=g_loss, d_real=d_real, d_fake=d_fake, fake=gen_imgs, real=real_imgs)

        batches_done = epoch * len(dataloader) + i
        if batches_done % opt.sample_interval == 0:
            save_image(gen_imgs.data[:25], "images/%d.png" % batches_done, nrow=5, normalize=True)
        batches += 1
        if opt.max_batches and batches >= opt.max_batches:
            break

    torch.save(generator.state_dict(), "saved_models/generator_%d.pth" % epoch)
    torch.save(discriminator.state_dict(), "saved_models/discriminator_%d.pth" % epoch)
    if opt.max_batches and batches >= opt.max_batches:
        break

if opt.ganlint_monitor:
    print("ganlint.Monitor label:", mon.diagnose().label, file=sys.stderr)
    mon.save(opt.ganlint_monitor)
