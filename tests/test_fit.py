"""The generic fitting loop (engine/fit.py) and the app contract, with a stand-in trainer: the
evaluation schedule, the time budget and Ctrl-C, and that the command line, viewer and benchmark
know apps only through the contract."""

import re
from pathlib import Path
from types import SimpleNamespace

from ngvk.engine.fit import COMPLETED, INTERRUPTED, TIME_BUDGET, fit_loop


class FakeTrainer:
    """Counts steps; its loss is 1 / step; `interrupt_at` raises KeyboardInterrupt in that step."""

    def __init__(self, interrupt_at=None):
        self.step = 0
        self.batch_size, self.seed = 8, 0
        self.interrupt_at = interrupt_at
        self.waited = False
        info = SimpleNamespace(name="fake", driver_name="d", driver_info="1")
        self.device = SimpleNamespace(info=info, wait_idle=lambda: setattr(self, "waited", True))

    def run_step(self):
        self.step += 1
        if self.step == self.interrupt_at:
            raise KeyboardInterrupt

    def last_loss(self):
        return 1.0 / self.step

    def timings(self):
        return {"batch": 0.5}

    def status(self):
        return {"step": self.step}


def snapshot(trainer):
    return lambda training: SimpleNamespace(step=trainer.step, training=training)


def evaluate(model):
    return {"quality": float(model.step)}


def test_evaluations_follow_the_schedule_and_end_with_the_last_step():
    trainer = FakeTrainer()
    seen = []
    result = fit_loop(trainer, 10, snapshot(trainer), evaluate, evaluations=3,
                      progress=lambda step, loss, metrics, status: seen.append((step, metrics, status["step"])))
    assert [h["step"] for h in result.history] == [3, 6, 9, 10]
    assert [s for s, m, _ in seen if m] == [3, 6, 9, 10] and len(seen) == 10
    assert all(step == status for step, _, status in seen)  # the trainer's status after its step
    assert result.stopped == COMPLETED and result.steps == 10 and result.metrics == {"quality": 10.0}
    training = result.model.training
    assert training["steps"] == 10 and training["stopped"] == COMPLETED and training["step_ms"] == {"batch": 0.5}


def test_a_time_budget_keeps_the_model_of_the_last_step():
    trainer = FakeTrainer()
    result = fit_loop(trainer, 1000, snapshot(trainer), evaluate, evaluations=10, max_seconds=0.0)
    assert result.stopped == TIME_BUDGET and result.steps == 1 and result.model.step == 1
    assert result.model.training["stopped"] == TIME_BUDGET and result.model.training["steps_asked"] == 1000
    assert result.history[-1]["step"] == 1 and result.metrics == {"quality": 1.0}  # evaluated on stopping


def test_ctrl_c_keeps_the_model_of_the_interrupted_step():
    trainer = FakeTrainer(interrupt_at=5)
    result = fit_loop(trainer, 100, snapshot(trainer), evaluate, evaluations=2)
    assert result.stopped == INTERRUPTED and trainer.waited
    assert result.steps == 5 and result.model.training["steps"] == 5 and result.metrics == {"quality": 5.0}


def test_command_line_viewer_and_benchmark_know_no_app_by_name():
    # They use the App contract only: no app's module, and no app's name as a string.
    from ngvk.apps import APP_NAMES

    folder = Path(__file__).resolve().parent.parent / "apps"
    for name in ("cli.py", "viewer.py", "bench.py", "bench_kernels.py", "bench_suite.py"):
        source = (folder / name).read_text()
        for app in APP_NAMES:
            assert not re.search(rf"apps\.{app}\b", source), f"{name} imports the {app} app"
            assert f'"{app}"' not in source and f"'{app}'" not in source, f"{name} names the {app} app"


def test_every_available_app_implements_the_contract():
    from ngvk.apps import AVAILABLE, get_app
    from ngvk.apps.base import App

    for name in AVAILABLE:
        app = get_app(name)
        assert isinstance(app, App) and app.name == name and app.render_modes and app.metrics
        for method in ("default_resolution", "load_data", "renderer", "presets", "fit", "evaluate"):
            assert getattr(type(app), method) is not getattr(App, method), f"{name} does not implement {method}"
        assert app.default_model_path().is_file()
