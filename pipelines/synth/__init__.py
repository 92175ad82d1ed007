"""Synthetic personas and timelines, ingested through the normal path, and the trajectories
the policy is trained on, rendered by the agent itself (:mod:`pipelines.synth.personas`,
:mod:`pipelines.synth.teacher`, :mod:`pipelines.synth.dataset`)."""
