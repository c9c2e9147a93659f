"""Thin pipeline edges: tracking and orchestration live here, never in src/medshift."""
