"""Parley: multi-agent role-play simulations of negotiations."""
