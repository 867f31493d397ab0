import io

from tqdm.auto import tqdm as auto_tqdm
from tqdm.std import tqdm as text_tqdm

from cxr_keras.progress import PLAIN_MININTERVAL, PLAIN_PROGRESS_ENV, plain_progress, progress_bar


def test_the_runner_gets_text_bars_and_interactive_use_the_auto_ones(monkeypatch):
    monkeypatch.setenv(PLAIN_PROGRESS_ENV, "1")
    assert plain_progress()
    out = io.StringIO()
    with progress_bar(total=3, file=out, desc="steps") as bar:
        assert type(bar) is text_tqdm and bar.mininterval == PLAIN_MININTERVAL
        bar.update(3)
    assert "steps: 100%" in out.getvalue() and "3/3" in out.getvalue()
    with progress_bar(total=3, file=io.StringIO(), mininterval=0.5) as bar:
        assert bar.mininterval == 0.5
    monkeypatch.setenv(PLAIN_PROGRESS_ENV, "0")
    assert not plain_progress()
    monkeypatch.delenv(PLAIN_PROGRESS_ENV)
    with progress_bar(total=3, file=io.StringIO()) as bar:
        assert type(bar) is auto_tqdm and bar.mininterval != PLAIN_MININTERVAL
