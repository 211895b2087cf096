"""A reward component that reads the ground-truth letter it is given: the integration test checks that
each GDQA rollout's reward saw its own variant's letter."""


def gt_is_a(solution_str, ground_truth=None, extra_info=None, data_source=None):
    return 1.0 if str(ground_truth).strip() == "A" else 0.0
