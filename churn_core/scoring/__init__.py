"""Scoring: risk, exact SHAP drivers in words, tiers, next-best channel, drift and signed score sets."""
