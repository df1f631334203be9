"""Figures. Plots draw result tables; they never compute statistics."""
