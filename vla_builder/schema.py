"""The state / action schema of every dataset vla_builder writes: one home for the names (info.json), the gripper
index and what each dimension means. The trajectory stage fills it, the sink declares it, the checker and the
evaluation scripts read it — all from here.

state  = (ee_x, ee_y, ee_w, ee_h, gripper, actor_visible): the end effector's box center and size in normalized
         image units, whether it held an object at the previous step, and whether it is labeled at this sample.
action = (ee_dx, ee_dy, ee_dscale, ee_drot, gripper): its motion from sample t to t+1 (normalized units, camera
         motion removed), half the log of its area change (> 0: closer), roll in radians, 1 while it holds.
For a wrist camera (or no tracks) the end effector is the camera: the action is its ego-motion (egomotion.py).
"""

from __future__ import annotations

STATE_NAMES = ("ee_x", "ee_y", "ee_w", "ee_h", "gripper", "actor_visible")
ACTION_NAMES = ("ee_dx", "ee_dy", "ee_dscale", "ee_drot", "gripper")
GRIPPER = ACTION_NAMES.index("gripper")  # the gripper's index in the action
STATE_GRIPPER = STATE_NAMES.index("gripper")  # ... and in the state
