"""rge.train"""
