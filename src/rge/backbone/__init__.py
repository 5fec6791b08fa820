"""rge.backbone"""
