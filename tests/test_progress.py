from tqdm.auto import tqdm as auto_tqdm

from cxr_keras.gan import train_gan
from cxr_keras.paths import display_path
from cxr_keras.progress import PLAIN_PROGRESS_ENV, LineProgress, plain_progress, progress_bar
from tests.scripts.tiny_gan import stripes, tiny_gan


def test_the_runner_gets_one_plain_line_and_interactive_use_gets_auto_bars(monkeypatch, capsys):
    monkeypatch.setenv(PLAIN_PROGRESS_ENV, "1")
    assert plain_progress()
    with progress_bar(total=12, desc="writing PNGs", unit="img") as bar:
        assert type(bar) is LineProgress
        for _ in range(3):
            bar.update(4)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith("writing PNGs: 100% 12/12 img in ")
    assert captured.out.count("\n") == 1
    assert list(progress_bar(range(3), desc="loop")) == [0, 1, 2]
    assert capsys.readouterr().out.startswith("loop: 100% 3/3 it in ")
    assert list(progress_bar(iter("ab"), desc="letters")) == ["a", "b"]
    assert capsys.readouterr().out.startswith("letters: 2 it in ")
    with progress_bar(total=3, disable=True) as bar:
        bar.update(3)
    assert capsys.readouterr().out == ""
    monkeypatch.setenv(PLAIN_PROGRESS_ENV, "0")
    assert not plain_progress()
    monkeypatch.delenv(PLAIN_PROGRESS_ENV)
    with progress_bar(total=3) as bar:
        assert isinstance(bar, auto_tqdm)


def test_train_gan_prints_one_stdout_line_per_epoch_and_relative_paths_under_the_runner(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(PLAIN_PROGRESS_ENV, "1")
    monkeypatch.chdir(tmp_path)
    for epochs in (2, 3):  # the second run resumes from epoch 2
        train_gan(tiny_gan(), stripes(32), epochs, tmp_path / "gan", sample_every=None,
                  batch_size=16)
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = captured.out.splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "gan: epoch 1/2", "gan: epoch 2/2",
        "Resumed from gan/checkpoints/epoch-0002 (epoch 2 of 3 done)", "gan: epoch 3/3"]
    assert all("d_loss=" in line and "g_loss=" in line for line in lines
               if line.startswith("gan: "))


def test_paths_inside_the_working_directory_are_shown_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "results" / "gan") == "results/gan"
    assert display_path("results/gan") == "results/gan"
    assert display_path("/elsewhere/gan") == "/elsewhere/gan"
    # data beside the checkout (../shared/data) keeps the form the user typed
    assert display_path(tmp_path.parent / "shared" / "data") == "../shared/data"
