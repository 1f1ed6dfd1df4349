"""Online-RL trainer example for utrs: RLTF and PanguCoder-RL actor-critic with DeepSpeed.

Entry points: ``python -m trainer_example.train`` (see docs/trainer.md),
``trainer_example.pretrain``, ``trainer_example.demo``, ``trainer_example.plot``.
"""
