"""Hands-off lifecycle for self-managed Windows node groups of private Amazon EKS clusters."""
