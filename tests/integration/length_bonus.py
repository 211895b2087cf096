"""A reward component chosen by file path in the integration test: it gives a random-init model's
rollouts a reward spread (shorter completions score higher), so GRPO has a non-zero gradient."""


def brevity(solution_str, ground_truth=None, extra_info=None, data_source=None):
    return 1.0 - min(len(str(solution_str)), 200) / 200.0
