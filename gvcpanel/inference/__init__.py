"""Covariance choices, bootstraps and multiple-testing adjustments."""

from gvcpanel.inference.spec import Inference, InferenceSpec, parse_inference

__all__ = ["Inference", "InferenceSpec", "parse_inference"]
