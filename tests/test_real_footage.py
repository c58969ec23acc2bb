"""True on real footage: the Something-Else development clips (real hand-held video, human boxes) and unit tests of
the rules that make it so (world motion, carry / push / touch, subtasks, language resolution, trajectory)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, build_letterboxed_scene
from vla_builder.actor import ActorError, action_track, choose_actor
from vla_builder.camera_compensation import world_steps
from vla_builder.stages.interactions import (InteractionsConfig, InteractionStage, close_gaps, motion_runs,
                                             segment_subtasks)
from vla_builder.sinks.lerobot import language_problems
from vla_builder.stages.language import MOTION_MIN_S, move_primitives, move_runs
from vla_builder.stages.trajectory import GRIPPER, STATE_NAMES, TrajectoryStage
from vla_builder.tracking.manipulators import join_fragments
from vla_builder.types import Clip, Event, Frames, Motion, SourceSpec, TrackSet


def _eval_real():
    spec = importlib.util.spec_from_file_location("eval_real", REPO / "scripts" / "eval_real.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def real_build(tmp_path_factory, real_data):
    ev = _eval_real()
    out = tmp_path_factory.mktemp("something_else") / "dev"
    report = ev.build(out, real_data / "something_else_dev", in_process=True)
    assert report.episodes == 6 and not report.failures, report.failures
    return out, {r["clip"]: r for r in ev.measure(out)}


def test_gripper_only_where_a_hand_carries_something(real_build):
    _out, by_clip = real_build
    assert set(by_clip) == {"151201", "3201", "2003", "44862", "22983", "4"}  # clip 4 (two same-name objects) built
    for carried in ("151201", "44862", "22983"):  # a hand takes hold of the object and moves it
        assert by_clip[carried]["gripper_fraction"] >= 0.15, by_clip[carried]
    for not_carried in ("3201", "2003"):  # no hand at all / a hand that only touches a book
        assert by_clip[not_carried]["gripper_fraction"] < 0.15, by_clip[not_carried]
    assert any(i.startswith("touch book") for i in by_clip["2003"]["interactions"])
    assert "camera" in by_clip["3201"]["actor"]  # no hand in the clip: the camera's motion is the action
    # clip 4: the hand moves the U-shaped piece (object 0) over the mat — a carry of that piece
    assert any(i.startswith("carry puzzle piece 0") for i in by_clip["4"]["interactions"]), by_clip["4"]
    for r in by_clip.values():
        assert r["visible_fraction"] == 1.0  # episodes are the actor's labeled span: no invented state


def test_real_build_validates_and_language_resolves_at_every_frame(real_build):
    """Every frame's language through lerobot's own resolvers — clip 4 has two objects of one class."""
    import pyarrow.parquet as pq
    from lerobot.datasets.language_render import active_at, emitted_at

    from vla_builder.validate import validate

    out, _ = real_build
    report = validate(out)
    assert report.ok, report.problems
    rows = [r for f in sorted(out.glob("data/*/*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert len(rows) == report.frames
    for r in rows:
        t, persistent = float(r["timestamp"]), r["language_persistent"]
        for style in ("subtask", "motion"):  # raises where ambiguous; a camera-only episode has no subtask rows
            active_at(t, persistent=persistent, style=style)
        assert active_at(t, persistent=persistent, style="plan") is not None
        for role in ("user", "assistant"):
            emitted_at(t, persistent=persistent, events=r["language_events"], style="vqa", role=role)


def test_real_motion_rows_are_at_narration_scale(real_build):
    """Real hand-held boxes flicker in direction every few samples; the motion rows (repeated on every frame by
    lerobot's `language_persistent`) must not: a direction row lasts MOTION_MIN_S or more, bar the gripper's."""
    import pyarrow.parquet as pq

    out, _ = real_build
    fps = json.loads((out / "meta" / "info.json").read_text())["fps"]
    by_ep: dict[int, list] = {}
    for f in sorted(out.glob("data/*/*.parquet")):
        for r in pq.read_table(f, columns=["episode_index", "frame_index", "language_persistent"]).to_pylist():
            by_ep.setdefault(r["episode_index"], []).append(r)
    total_rows = total_frames = 0
    for rows in by_ep.values():
        motion = sorted((m["timestamp"], m["content"]) for m in rows[0]["language_persistent"] if m["style"] == "motion")
        words = [(ts, c.split(", ")[-1]) for ts, c in motion]  # "close the gripper, move up" moves up
        changes = [ts for i, (ts, w) in enumerate(words) if i == 0 or w != words[i - 1][1]]
        assert (np.diff(changes) >= MOTION_MIN_S - 0.5 / fps).all(), motion
        total_rows += len(motion)
        total_frames += len(rows)
    assert total_rows <= 0.2 * total_frames, (total_rows, total_frames)  # was 84 rows for 296 frames before


def _action(steps_xy: np.ndarray, grip: np.ndarray | None = None) -> np.ndarray:
    action = np.zeros((len(steps_xy), 7), np.float32)
    action[:, :2] = steps_xy
    if grip is not None:
        action[:, GRIPPER] = grip
    return action


def test_move_runs_follow_the_motion_not_the_jitter():
    fps = 30
    rng = np.random.default_rng(0)
    # 10 s of a slow rightward drift under per-sample noise twice as large: a sample's own direction is mostly noise
    drift = np.tile([0.1 / fps, 0.0], (10 * fps, 1))
    noisy = drift + rng.normal(0, 0.2 / fps, drift.shape)
    runs = move_runs(_action(noisy), fps)
    assert all(b - a >= MOTION_MIN_S * fps for a, b, _ in runs), runs
    covered = sum(b - a for a, b, w in runs if w == "move right")
    assert covered >= 0.6 * len(noisy), runs
    # 1 s right, then 1 s up: two rows, the change within a quarter second of the truth
    clean = np.concatenate([np.tile([0.5 / fps, 0], (fps, 1)), np.tile([0, -0.5 / fps], (fps, 1))])
    runs = move_runs(_action(clean), fps)
    assert [w for *_, w in runs] == ["move right", "move up"] and abs(runs[1][0] - fps) <= fps // 4, runs
    # still, then a 0.2 s down-and-back twitch (a box's jitter), then still: one row — not narrated
    twitch = np.zeros((2 * fps, 2))
    twitch[fps : fps + 3] = [0.0, 0.5 / fps]
    twitch[fps + 3 : fps + 6] = [0.0, -0.5 / fps]
    assert [w for *_, w in move_runs(_action(twitch), fps)] == ["stay still"]
    # the gripper's change keeps its own sample, whatever the runs
    grip = np.r_[np.zeros(fps), np.ones(fps)]
    words = move_primitives(_action(clean, grip), fps)
    closes = [t for t, w in enumerate(words) if w.startswith("close the gripper, ")]
    assert closes == [fps] and words[fps].split(", ")[1] in ("move right", "move up"), words
    assert words[fps // 2] == "move right" and words[-1] == "move up" and not any("open" in w for w in words)


# ---- unit tests of the rules, on small arrays -----------------------------------------------------------------

def _tracks(centers: dict[int, np.ndarray], sizes: dict[int, tuple[float, float]], names: dict[int, str]) -> TrackSet:
    ids = sorted(centers)
    t_count = len(next(iter(centers.values())))
    boxes = np.full((t_count, len(ids), 4), np.nan)
    for k, i in enumerate(ids):
        c, (w, h) = centers[i], sizes[i]
        boxes[:, k] = np.stack([c[:, 0] - w / 2, c[:, 1] - h / 2, c[:, 0] + w / 2, c[:, 1] + h / 2], axis=1)
    return TrackSet(np.array(ids), tuple(names[i] for i in ids), boxes, ~np.isnan(boxes[..., 0]))


def _motion(t_count: int, k: int, pan_per_step=(0.0, 0.0), inliers: float = 1.0) -> Motion:
    affine = np.tile(np.eye(2, 3), (t_count, 1, 1))
    affine[:-1, :, 2] = pan_per_step
    affine[-1] = np.eye(2, 3)
    return Motion(affine, np.full(t_count, inliers), np.zeros((t_count, k, 2)), np.zeros(t_count), "test")


def _clip(tracks: TrackSet, motion: Motion, fps: int = 15) -> Clip:
    t_count = tracks.boxes_xyxy.shape[0]
    frames = Frames(np.zeros((t_count, 4, 4, 3), np.uint8), fps, np.arange(t_count), np.arange(t_count) / fps, 0.0,
                    "test", (640, 480))
    return Clip("unit", SourceSpec(video=Path("unit.mp4")), frames=frames, tracks=tracks, motion=motion)


def _interactions(tracks, motion, **kw) -> Clip:
    return InteractionStage(actor="hand", config=InteractionsConfig(**kw)).process(_clip(tracks, motion))


NAMES = {1: "hand", 2: "cup"}
SIZES = {1: (0.12, 0.14), 2: (0.08, 0.10)}


def _rest_then_lift(n=40, rest=(8, 20), lift_to=(0.7, 0.3), pan=(0.0, 0.0)):
    """The hand reaches the cup, rests on it, then lifts it; the camera pans by `pan` per step (image = world - pan)."""
    t = np.arange(n, dtype=float)
    cup0 = np.array([0.3, 0.6])
    hand = np.stack([np.interp(t, [0, rest[0], rest[1], 32, n - 1], [0.05, cup0[0], cup0[0], lift_to[0], lift_to[0]]),
                     np.interp(t, [0, rest[0], rest[1], 32, n - 1], [0.9, cup0[1], cup0[1], lift_to[1], lift_to[1]])], 1)
    cup = np.tile(cup0, (n, 1))
    cup[rest[1]:] = hand[rest[1]:]
    shift = np.arange(n)[:, None] * np.array(pan)
    return {1: hand - shift, 2: cup - shift}


def test_grasp_starts_when_the_object_moves_not_when_the_hand_arrives_under_a_pan():
    centers = _rest_then_lift(pan=(0.004, 0.002))
    tracks = _tracks(centers, SIZES, NAMES)
    # the camera moves right/down by (0.004, 0.002) a step: every point moves the opposite way in the image
    clip = _interactions(tracks, _motion(40, 2, pan_per_step=(-0.004, -0.002)))
    carry = [e for e in clip.events if e.kind == "carry"]
    assert len(carry) == 1 and abs(carry[0].start - 20) <= 1 and abs(carry[0].end - 31) <= 1, clip.events


def test_contact_without_world_motion_is_a_touch_and_no_gripper():
    n = 30
    t = np.arange(n, dtype=float)
    hand = np.stack([np.interp(t, [0, 10, 20, n - 1], [0.05, 0.3, 0.3, 0.05]),
                     np.interp(t, [0, 10, 20, n - 1], [0.9, 0.6, 0.6, 0.9])], 1)
    jitter = np.random.default_rng(0).normal(0, 0.002, (n, 2))  # a human box wobbles; the object stays put
    tracks = _tracks({1: hand, 2: np.tile([0.3, 0.6], (n, 1)) + jitter}, SIZES, NAMES)
    clip = _interactions(tracks, _motion(n, 2))
    kinds = {e.kind for e in clip.events}
    assert "touch" in kinds and not kinds & {"carry", "grasp", "push"}, clip.events
    assert [s.kind for s in clip.subtasks] == ["reach", "touch", "retreat"]


def test_push_moves_an_object_the_hand_only_touches_in_the_hands_direction():
    n = 40
    t = np.arange(n, dtype=float)
    hand_x = np.interp(t, [0, 10, 30, n - 1], [0.05, 0.2, 0.5, 0.5])
    hand = np.stack([hand_x, np.full(n, 0.5)], 1)
    box_x = np.where(t < 10, 0.305, hand_x + 0.105)  # the box sits just right of the hand and is pushed along
    tracks = _tracks({1: hand, 2: np.stack([box_x, np.full(n, 0.5)], 1)}, {1: (0.1, 0.1), 2: (0.1, 0.1)}, NAMES)
    clip = _interactions(tracks, _motion(n, 2))
    assert [e.kind for e in clip.events if e.kind in ("push", "carry")] == ["push"], clip.events


def test_motion_runs_ignore_jitter_and_blips():
    rng = np.random.default_rng(1)
    steps = np.zeros((30, 6))
    steps[:, :2] = rng.normal(0, 0.004, (30, 2))  # a still object's box jitters back and forth
    steps[:, 2:] = steps[:, :2].repeat(2, axis=0).reshape(30, 4)
    unc = np.zeros(30)
    assert motion_runs(steps, unc, 0.004, 0.02, 2) == []
    steps[10:20, 0] += 0.02  # now it really moves for 10 steps
    runs = motion_runs(steps, unc, 0.004, 0.02, 2)
    assert len(runs) == 1 and abs(runs[0][0] - 10) <= 1 and abs(runs[0][1] - 19) <= 1
    assert motion_runs(steps, unc + 0.05, 0.004, 0.02, 2) == []  # the camera fit can't vouch for it: no claim
    assert close_gaps(np.array([1, 0, 1, 0, 0, 1], bool), 1).tolist() == [1, 1, 1, 0, 0, 1]


def test_world_steps_remove_the_camera_exactly():
    n = 10
    still = {1: np.tile([0.5, 0.5], (n, 1)) - np.arange(n)[:, None] * [0.01, 0.0], 2: np.tile([0.2, 0.2], (n, 1))}
    tracks = _tracks({1: still[1], 2: still[2] - np.arange(n)[:, None] * [0.01, 0.0]}, SIZES, NAMES)
    steps = world_steps(tracks, _motion(n, 2, pan_per_step=(-0.01, 0.0)))
    assert np.allclose(steps[:-1], 0, atol=1e-9)


def test_subtasks_never_overlap_when_two_objects_of_one_class_move_at_once():
    events = [Event("carry", 5, 20, 1, 2), Event("carry", 8, 25, 1, 3), Event("push", 22, 30, 1, 4)]
    subs = segment_subtasks(events, 1, 40, max_gap=5)
    covered = np.zeros(40, int)
    for s in subs:
        covered[s.start : s.end + 1] += 1
    assert (covered == 1).all(), subs  # exactly one subtask active at every sample


def test_language_check_finds_what_lerobot_would_refuse():
    ts = [float(np.float32(i / 15)) for i in range(10)]
    rows = [{"role": "assistant", "content": "plan", "style": "plan", "timestamp": 0.0},
            {"role": "assistant", "content": "reach for the puzzle piece", "style": "subtask", "timestamp": 0.0},
            {"role": "assistant", "content": "move the puzzle piece", "style": "subtask", "timestamp": ts[4]}]
    assert language_problems(rows, [], ts) == []
    twin = {**rows[2], "content": "move the other puzzle piece"}
    problems = language_problems(rows + [twin], [], ts)
    assert problems and "Ambiguous" in problems[0] and "subtask" in problems[0]


def test_hand_fragments_join_into_one_hand_and_language_never_refers_the_hand_to_itself():
    n = 30
    t = np.arange(n, dtype=float)
    path = np.stack([np.linspace(0.2, 0.8, n), np.full(n, 0.5)], 1)
    frag = {i: np.where(((t >= a) & (t < b))[:, None], path, np.nan) for i, (a, b) in
            {1: (0, 10), 5: (10, 18), 9: (18, 30)}.items()}
    tracks = _tracks({**frag, 2: np.tile([0.5, 0.2], (n, 1))}, {1: (0.1, 0.1), 5: (0.1, 0.1), 9: (0.1, 0.1),
                                                              2: (0.1, 0.1)}, {1: "hand", 5: "hand", 9: "hand", 2: "cup"})
    joined, record = join_fragments(tracks, None)
    assert joined.class_names.count("hand") == 1 and record == [(1, [5, 9])]
    assert joined.present[:, joined.class_names.index("hand")].all()
    from vla_builder.stages.language import describe_episode

    clip = _interactions(tracks, _motion(n, 4))
    clip = TrajectoryStage().process(clip)
    text = describe_episode(clip.tracks, list(clip.subtasks), clip.trajectory, action_track(clip)).render(0, "x")[0]
    assert "toward the hand" not in text and "hand" in text, text


def test_actor_that_names_no_class_is_an_error_listing_the_classes():
    tracks = _tracks({1: np.tile([0.5, 0.5], (5, 1)), 2: np.tile([0.2, 0.2], (5, 1))}, SIZES, NAMES)
    with pytest.raises(ActorError, match=r"'hnad'.*\['cup', 'hand'\].*did you mean 'hand'"):
        choose_actor(tracks, "hnad")
    only_cup = _tracks({2: np.tile([0.2, 0.2], (5, 1))}, SIZES, NAMES)
    k, why = choose_actor(only_cup, "hand")  # no manipulator in the clip at all: the camera acts
    assert k is None and "camera" in why


def test_static_camera_actions_are_the_label_deltas_and_nothing_is_invented_where_the_actor_is_unseen():
    n = 20
    rng = np.random.default_rng(2)
    hand = np.cumsum(rng.normal(0, 0.01, (n, 2)), axis=0) + 0.5
    hand[8:11] = np.nan  # unlabeled for three samples
    tracks = _tracks({1: hand, 2: np.tile([0.1, 0.1], (n, 1))}, SIZES, NAMES)
    clip = _interactions(tracks, _motion(n, 2), episode_span="clip")
    traj = TrajectoryStage().process(clip).trajectory
    visible = traj.state[:, STATE_NAMES.index("actor_visible")]
    assert visible.tolist() == [0.0 if 8 <= t <= 10 else 1.0 for t in range(n)]
    deltas = np.diff(hand, axis=0)
    seen = ~np.isnan(deltas[:, 0])
    assert np.allclose(traj.action[:-1][seen, :2], deltas[seen], atol=1e-6)  # exactly the label deltas
    assert (traj.action[:-1][~seen, :GRIPPER] == 0).all()  # steps from / to an unseen actor: no motion claimed


def test_episode_is_cut_to_the_actors_labeled_span():
    n = 20
    hand = np.tile([0.5, 0.5], (n, 1))
    hand[:4] = np.nan
    hand[15:] = np.nan
    tracks = _tracks({1: hand, 2: np.tile([0.1, 0.1], (n, 1))}, SIZES, NAMES)
    clip = _interactions(tracks, _motion(n, 2))
    assert len(clip.frames) == 11 and clip.tracks.present[:, 0].all()
    assert clip.provenance["episode_span"] == [4, 14]
    whole = _interactions(tracks, _motion(n, 2), episode_span="clip")
    assert len(whole.frames) == n


def test_stored_boxes_land_on_the_labeled_object_in_the_stored_frames(tmp_path):
    """A 4:3 scene written 2:1 (letterboxed): the state, VQA and trace boxes are in the stored image's coordinates."""
    import av

    out = build_letterboxed_scene(tmp_path, "letterbox", (120, 160), (120, 240))
    traces = [json.loads(line) for line in (out / "meta" / "reasoning.jsonl").read_text().splitlines()]
    prov = json.loads((out / "meta" / "provenance.jsonl").read_text().splitlines()[0])
    assert prov["image_coordinates"]["offset"] == pytest.approx([40 / 240, 0.0], abs=1e-5)
    info = json.loads((out / "meta" / "info.json").read_text())
    assert "stored image" in info["features"]["observation.state"]["info"]["coordinates"]  # the convention, documented
    video = next(out.glob("videos/**/*.mp4"))
    with av.open(str(video)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert frames[0].shape == (120, 240, 3)

    def redness(rgb, box):
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0  # the inner half of the box: the object, not its outline
        patch = rgb[int((y0 + h / 4) * 120) : int((y1 - h / 4) * 120), int((x0 + w / 4) * 240) : int((x1 - w / 4) * 240)]
        return float(patch[..., 0].mean() - patch[..., 1].mean())

    for t in (0, 2, 23):  # frames where the hand does not cover the cup
        cup = next(o for o in traces[t]["visible_objects"] if o["name"] == "cup")
        assert redness(frames[t], cup["box"]) > 100, (t, cup)  # the red cup is where its stored box says
        x0, y0, x1, y1 = cup["box"]  # where the source-coordinate box would point: not the cup
        src = [(x0 - 40 / 240) * 240 / 160, y0, (x1 - 40 / 240) * 240 / 160, y1]
        assert redness(frames[t], src) < 60
    import pyarrow.parquet as pq

    rows = sorted(pq.read_table(next(out.glob("data/**/*.parquet"))).to_pylist(), key=lambda r: r["frame_index"])
    hand = next(o for o in traces[0]["visible_objects"] if o["name"] == "hand")
    state = rows[0]["observation.state"]
    assert state[0] == pytest.approx((hand["box"][0] + hand["box"][2]) / 2, abs=1e-3)  # the state: same coordinates
    from vla_builder.validate import validate

    assert validate(out).ok
    (out / "meta" / "reasoning.jsonl").write_text('{"episode_index": 0, "frame_index": 99}\n{not json\n')
    report = validate(out)  # a broken file is a message naming it, never a traceback
    assert not report.ok and any("reasoning.jsonl" in p for p in report.problems), report.problems


def test_labels_of_another_video_fail_the_clip_with_counts_and_a_misspelt_actor_lists_the_classes(tmp_path):
    from vla_builder.build import build
    from vla_builder.recipe import load_recipe
    from vla_builder.synthetic import make_scene

    make_scene(tmp_path / "a", "idle", n_frames=20, fps=15, size_px=(120, 160), seed=1)
    make_scene(tmp_path / "b", "pick_place", n_frames=60, fps=15, size_px=(240, 320), seed=2)
    common = "    classes: {1: hand, 2: cup, 3: box}\nfps: 15\nimage_size: [120, 160]\nvideo: {codec: h264}\n"
    (tmp_path / "swapped.yaml").write_text(
        "name: swapped\nsources:\n  - video: a/scene.mp4\n    labels: b/gt.txt\n" + common + "actor: hand\n")
    report = build(load_recipe(tmp_path / "swapped.yaml"), output=tmp_path / "o1", log=lambda *a: None)
    assert report.episodes == 0 and len(report.failures) == 1  # the one clip's labels do not fit its video
    reason = report.failures[0].reason
    assert "do not fit the video" in reason and "past the video's end" in reason, reason
    (tmp_path / "typo.yaml").write_text(
        "name: typo\nsources:\n  - video: a/scene.mp4\n    labels: a/gt.txt\n" + common + "actor: hnad\n")
    from vla_builder.build import BuildError

    with pytest.raises(BuildError) as err:  # a recipe error before anything is written
        build(load_recipe(tmp_path / "typo.yaml"), output=tmp_path / "o2", log=lambda *a: None)
    reason = str(err.value)
    assert "'hnad' names no class" in reason and "'box', 'cup', 'hand'" in reason and "'hand'?" in reason, reason
    assert not (tmp_path / "o2").exists() and not (tmp_path / ".o2.work").exists()


def test_label_fit_warns_with_counts_and_fails_past_the_threshold():
    from vla_builder.sources.labels.fit import LabelFitError, label_fit
    from vla_builder.types import LabelRowCounts, LabelTable

    n = 10
    table = LabelTable(np.arange(n), np.ones(n, int), np.array(["hand"] * n, object), np.tile([0.1, 0.1, 0.2, 0.2], (n, 1)),
                       np.ones(n))
    clip = Clip("x", SourceSpec(video=__import__("pathlib").Path("v.mp4")), labels=table,
                label_rows=LabelRowCounts({"box entirely outside the frame": 2}))
    warning = label_fit(clip)
    assert "2 box entirely outside the frame" in warning and "17%" in warning  # 2 of 12 rows
    bad = clip.with_(label_rows=LabelRowCounts({"box entirely outside the frame": 2}, past_end=6))
    with pytest.raises(LabelFitError, match="do not fit the video"):
        label_fit(bad)  # 8 of 12 rows
    assert label_fit(clip.with_(label_rows=LabelRowCounts())) is None


def test_a_third_person_source_without_labels_says_the_camera_becomes_the_actor(caplog):
    empty = TrackSet(np.zeros(0, int), (), np.zeros((6, 0, 4)), np.zeros((6, 0), bool))
    with caplog.at_level("WARNING"):
        clip = _interactions(empty, _motion(6, 0))
    assert clip.actor_id is None and "ego-motion becomes the action" in caplog.text


def test_labels_stated_for_another_frame_shape_fail_and_another_scale_is_said():
    from pathlib import Path

    from vla_builder.sources.labels import finish_table
    from vla_builder.sources.labels.fit import LabelFitError, label_fit
    from vla_builder.types import Clip, SourceSpec, VideoInfo

    info = VideoInfo(Path("v.mp4"), 640, 360, 30.0, 10, "h264", "yuv420p", 0)
    spec = SourceSpec(video=Path("v.mp4"), labels=Path("l.json"))

    def clip_with(size_px):
        n = 4
        box = [10.0, 10.0, 50.0, 40.0] if size_px != (1.0, 1.0) else [0.1, 0.1, 0.2, 0.2]
        table = finish_table(Path("l.json"), "coco", np.arange(n), np.ones(n), np.ones(n),
                             np.tile(box, (n, 1)), np.ones(n), {1: "cup"}, size_px)
        return Clip("c", spec, info=info, labels=table)

    assert label_fit(clip_with((640, 360))) is None  # the video's own size: nothing to say
    assert label_fit(clip_with((1.0, 1.0))) is None  # normalized boxes state no frame size
    note = label_fit(clip_with((1280, 720)))  # same shape, another scale: boxes still land right, but it is said
    assert note is not None and "1280x720" in note and "640x360" in note, note
    with pytest.raises(LabelFitError, match=r"640x480 frames.*640x360"):
        label_fit(clip_with((640, 480)))  # 4:3 labels on a 16:9 video


def test_language_columns_equal_lerobots_writer(real_build, tmp_path):
    """Our episode-at-a-time writer (memory: one episode's frames x rows) writes what lerobot's own
    `LanguageColumnsWriter` writes (a whole file at once): same table, same row groups, on the real build."""
    import shutil

    import pyarrow.parquet as pq
    from lerobot.annotations.steerable_pipeline.reader import iter_episodes
    from lerobot.annotations.steerable_pipeline.staging import EpisodeStaging
    from lerobot.annotations.steerable_pipeline.writer import LanguageColumnsWriter

    from vla_builder.sinks.lerobot import write_language_columns

    out, _ = real_build
    per_episode: dict[int, dict] = {}
    for f in sorted(out.glob("data/*/*.parquet")):
        for r in pq.read_table(f).to_pylist():
            lang = per_episode.setdefault(r["episode_index"], {"persistent": r["language_persistent"], "events": []})
            lang["events"] += [{**e, "timestamp": r["timestamp"]} for e in r["language_events"]]
    episodes = [per_episode[i] for i in range(len(per_episode))]
    assert sum(len(e["events"]) for e in episodes) > 0 and all(e["persistent"] for e in episodes)
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for d in (ours, theirs):
        shutil.copytree(out, d)
    write_language_columns(ours, episodes)
    for ep, lang in enumerate(episodes):
        staging = EpisodeStaging(theirs / ".staging", ep)
        staging.write("plan", lang["persistent"])
        staging.write("vqa", lang["events"])
    LanguageColumnsWriter().write_all(list(iter_episodes(theirs)), theirs / ".staging", theirs)
    files = sorted(p.relative_to(ours) for p in ours.glob("data/*/*.parquet"))
    assert files
    for rel in files:
        a, b = pq.ParquetFile(ours / rel), pq.ParquetFile(theirs / rel)
        assert a.metadata.num_row_groups == b.metadata.num_row_groups == len(episodes)
        assert a.read().equals(b.read())
