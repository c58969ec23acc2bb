"""The state / action schema of every dataset vla_builder writes: one home for the names (info.json), the gripper
index and what each dimension means (`STATE_INFO` / `ACTION_INFO`, written into info.json). The trajectory stage
fills it, the sink declares it, the checker and the evaluation scripts read it — all from here.

state  = (ee_x, ee_y, ee_w, ee_h, gripper, actor_visible): the end effector's box center and size in normalized
         image units, whether it held an object at the previous step, and whether it is labeled at this sample.
action = (ee_dx, ee_dy, ee_dscale, ee_drot, gripper): its motion from sample t to t+1 (normalized units, camera
         motion removed), half the log of its area change (> 0: closer), roll in radians, 1 while it holds.
For a wrist camera (or no tracks) the end effector is the camera: the action is its ego-motion (egomotion.py).
"""

from __future__ import annotations

IMAGE_SIZE_HW = (480, 640)  # (height, width) of the stored camera frames unless the recipe says (`image_size`)
STATE_NAMES = ("ee_x", "ee_y", "ee_w", "ee_h", "gripper", "actor_visible")
ACTION_NAMES = ("ee_dx", "ee_dy", "ee_dscale", "ee_drot", "gripper")
GRIPPER = ACTION_NAMES.index("gripper")  # the gripper's index in the action
STATE_GRIPPER = STATE_NAMES.index("gripper")  # ... and in the state
# normalized image units / s: an actor or object slower than this is still (the interactions' events, the language's
# motion words)
STILL_SPEED_PER_S = 0.03

# written into info.json with the state and action features (the `info` entry of each): what the numbers mean
STATE_INFO = {"coordinates": "ee_x, ee_y, ee_w, ee_h: normalized coordinates of the stored image (x / its width, "
                             "y / its height, letterbox included); per-episode mapping from the source in "
                             "meta/provenance.jsonl image_coordinates",
              "actor_visible": "1 where the actor is labeled at this sample; 0: the box is the last labeled one, "
                               "kept, not observed",
              "gripper": "1 if the actor held an object at the previous step"}
ACTION_INFO = {"coordinates": "ee_dx, ee_dy: the actor's motion t -> t+1 in the stored image's normalized units, the "
                              "camera's motion removed; 0 for steps from or to a sample without the actor",
               "gripper": "1 while the actor holds an object (the command at t moves it from t to t+1)"}
