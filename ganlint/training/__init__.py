"""`ganlint train`: the training loop and everything a run is made of.

    config.py      TrainConfig, its fields and validation
    loop.py        train() and resume(): the loop over steps, checkpoints, signals, stop and save
    skeleton.py    what every loop does around its step: evaluation and picture schedule, progress,
                   flush-and-stop, the summary (shared by loop.py and batched.py)
    step.py        TrainStep: one step (n_critic D updates, one G update) and its telemetry row
    fast.py        the same step with fused Adam, a CUDA graph or torch.compile
    batched.py     K seeds of one config trained as one vmapped model
    losses.py      the GAN losses (registry)
    telemetry.py   the recorder that keeps per-step rows on the device, gradient norms, the step's row
                   (the column names themselves are ganlint.schema's, which needs no torch)
    evaluation.py  sample metrics at evaluation steps (shared with the Monitor)
    run.py         the run folder: Run, load_run, its file names
    checkpoint.py  saving and reading the run's own checkpoints
    device.py      choosing and validating the device
    monitor.py     Monitor: the same telemetry and evaluation for a user's own loop
    monitor_feed.py  what a Monitor sends to the user's loggers (TensorBoard, W&B, MLflow), and when

Nothing is imported here: `ganlint.training` is a folder, `ganlint.train` is the function.
"""
