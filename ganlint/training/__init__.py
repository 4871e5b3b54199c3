"""`ganlint train`: the training loop and everything a run is made of.

    config.py      TrainConfig, its fields and validation
    loop.py        train() and resume(): the loop over steps, evaluation, pictures, stop and save
    step.py        TrainStep: one step (n_critic D updates, one G update) and its telemetry row
    fast.py        the same step with fused Adam, a CUDA graph or torch.compile
    batched.py     K seeds of one config trained as one vmapped model
    losses.py      the GAN losses (registry)
    telemetry.py   the per-step columns and the recorder that keeps them on the device
    evaluation.py  sample metrics at evaluation steps (shared with the Monitor)
    run.py         the run folder: Run, load_run, its file names
    checkpoint.py  saving and reading the run's own checkpoints
    device.py      choosing and validating the device
    monitor.py     Monitor: the same telemetry and evaluation for a user's own loop

Nothing is imported here: `ganlint.training` is a folder, `ganlint.train` is the function.
"""
