"""Recipe validation: every problem in one message, exit 2, nothing written."""

import textwrap
from pathlib import Path

import pytest

from conftest import cli_in_process
from vla_builder.recipe import RecipeError, load_recipe


def write(tmp: Path, text: str) -> Path:
    p = tmp / "recipe.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_bad_recipe_lists_every_problem_exits_2_writes_nothing(tmp_path):
    recipe = write(tmp_path, """
        name: bad
        sources:
          - video: missing_clip.mp4
            labels: x.txt
          - frames: nope/img1
            fps: fast
          - video: a.mp4
            frames: b
        fps: -3
        colour: red
        image_size: [481, 640]
        motion: {method: raft}
        output: out/bad
    """)
    res = cli_in_process("build", str(recipe), cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    msg = res.stderr
    for needle in ["colour: unknown key", "fps:", "sources[1].fps", "sources[2]", "exactly one of 'video' or 'frames'",
                   "image_size", "motion.method"]:
        assert needle in msg, f"{needle!r} missing from:\n{msg}"
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recipe.yaml"]


def test_missing_files_are_all_reported(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"x")
    recipe = write(tmp_path, """
        name: files
        sources:
          - video: missing_clip.mp4
          - video: clip.mp4
            labels: no_labels.txt
          - video: "*.mkv"
    """)
    with pytest.raises(RecipeError) as e:
        load_recipe(recipe)
    problems = e.value.problems
    assert len(problems) == 3, problems
    assert any("sources[0].video" in p and "missing_clip.mp4" in p for p in problems)
    assert any("sources[1].labels" in p and "no_labels.txt" in p for p in problems)
    assert any("sources[2].video" in p for p in problems)


def test_set_overrides_and_globs(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.mp4").write_bytes(b"x")
        (tmp_path / f"{name}_gt.txt").write_text("1,1,0,0,1,1,1,1,1\n")
    recipe = write(tmp_path, """
        name: globbed
        sources:
          - video: "*.mp4"
            labels: "{stem}_gt.txt"
    """)
    loaded = load_recipe(recipe, ["fps=10", "motion.preset=medium", "video.codec=h264"])
    assert loaded.recipe.fps == 10 and loaded.recipe.motion.preset == "medium" and loaded.recipe.video.codec == "h264"
    assert [s.labels.name for s in loaded.sources] == ["a_gt.txt", "b_gt.txt"]
    with pytest.raises(RecipeError) as e:
        load_recipe(recipe, ["fps=ten", "nonsense"])
    assert any("nonsense" in p for p in e.value.problems)


def test_yaml_is_data_only(tmp_path):
    recipe = write(tmp_path, """
        name: !!python/object/apply:os.system ["echo pwned"]
        sources: []
    """)
    with pytest.raises(RecipeError) as e:
        load_recipe(recipe)
    assert "not valid YAML" in str(e.value)


def test_decode_keeps_grey_frames_at_the_size_motion_reads():
    """motion.max_side_px reaches the decode stage: its pass keeps grey frames at that size, so motion never decodes
    the source a second time (GridFrames.grays would, at any other size)."""
    from vla_builder.build import PipelineFactory

    for side in (160, 320):
        decode = next(s for s in PipelineFactory.of(10, motion={"max_side_px": side})().stages if s.name == "decode")
        assert decode.gray_max_side_px == side


def test_a_recipe_named_relative_to_the_start_folder_gives_absolute_source_paths(tmp_path, monkeypatch):
    """A Ray worker runs in another folder: the sources a recipe names must not stay relative to where the build was
    started (`build recipe.yaml --runner ray` failed every clip with 'no such file'); clip ids and provenance stay
    relative to the recipe's folder."""
    from vla_builder.build import recipe_relative

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.mp4").write_bytes(b"x")
    (corpus / "a_gt.txt").write_text("1,1,0,0,1,1,1,1,1\n")
    write(corpus, """
        name: relative
        sources:
          - video: a.mp4
            labels: "{stem}_gt.txt"
    """)
    monkeypatch.chdir(tmp_path)
    loaded = load_recipe(Path("corpus") / "recipe.yaml")
    spec = loaded.sources[0]
    assert spec.media.is_absolute() and spec.labels.is_absolute() and spec.media == corpus / "a.mp4"
    assert recipe_relative(spec.media, loaded.path.parent) == "a.mp4"
