"""The paper's perturbation trial, as its code ran it, for the benchmarks that compare against it (bench_sweep.py,
gpu_check.py): deep-copy the model, perturb the copy's attention weights (magnitude thresholds with np.percentile on
a CPU copy of each tensor), then the Hugging Face guide's perplexity loop, one window per forward pass, in fp32,
with logits for every position."""

import copy

import numpy as np
import torch


def paper_trial(net, ids, kind, amount, seed, max_length, stride, device):
    """(summed NLL, scored tokens) of one trial by the paper's procedure."""
    damaged = copy.deepcopy(net)
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, w in damaged.named_parameters():
            if 'attn' not in name:
                continue
            if kind == 'magnitude_pruning':
                threshold = np.percentile(w.abs().cpu().numpy(), amount * 100)
                w.masked_fill_(w.abs() <= torch.tensor(threshold, device=w.device), 0)
            elif kind == 'random_deletion':
                w.mul_((torch.rand_like(w) >= amount).float())
            else:
                w.add_(torch.randn_like(w) * amount)
    nll_sum, n_tokens, previous_end = 0.0, 0, 0
    for begin in range(0, len(ids), stride):  # the HF guide's loop
        end = min(begin + max_length, len(ids))
        target_length = end - previous_end
        window = ids[begin:end].unsqueeze(0).to(device)
        labels = window.clone()
        labels[:, :-target_length] = -100
        with torch.no_grad():
            loss = damaged(window, labels=labels).loss
        scored = (labels != -100).sum().item() - 1
        nll_sum += loss.item() * scored
        n_tokens += scored
        previous_end = end
        if end == len(ids):
            break
    return nll_sum, n_tokens
