"""The NeRF app: declarations on the contract of apps/base.py (data, presets, fitting, evaluation,
renderers). The work is in the sibling modules (apps/nerf/__init__.py lists them)."""

from __future__ import annotations

from ngvk.apps.base import App
from ngvk.apps.nerf import scene
from ngvk.apps.nerf.data import load_nerf_dataset


class NerfApp(App):
    name = "nerf"
    title = "neural radiance fields: posed images to a density and colour field, ray-marched"
    data_help = ("a dataset folder in the NeRF synthetic format (transforms_{train,val,test}.json) or "
                 "instant-ngp's (transforms.json); `ngvk dataset nerf NAME --out DIR` writes one")
    moves_in_3d = True
    datasets = {name: generated.description for name, generated in scene.SCENES.items()}

    def load_data(self, source: str):
        return load_nerf_dataset(source, "train")

    def make_dataset(self, name, out, views, resolution, seed, progress=None) -> str:
        return scene.write_dataset(name, out, views=views, resolution=resolution, seed=seed, progress=progress)
