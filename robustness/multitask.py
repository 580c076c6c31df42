"""A deep multitask classifier (non_linear.py): a ResNet backbone gives a representation r(x), and a head matrix
C (T x d) scores task t as C[t] . r(x), a logit for "class t+1 rather than class t".

    images, task_ids, labels = stacked(task_data(x, y, T, per_task, rng))   # every sample keeps its own task
    model = MultitaskNet(small_resnet(1, 16), 32, T)
    train(model, images, task_ids, labels, epochs=60, batch_size=32, lr=2e-3, weight_decay=1e-4, generator=g)
    accuracy, loss = evaluate(model, *stacked(task_data(x_test, y_test, T)), T)   # per task
"""

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock

from robustness.config import fail
from robustness.runtime import autocast


def small_resnet(channels, width):
    """A ResNet for 8x8 images: a 3x3 stem, a BasicBlock of `width` channels, one of 2 x width at stride 2,
    global average pooling -> a 2 x width representation (torchvision's BasicBlock)."""
    wide = 2 * width
    return nn.Sequential(
        nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
        BasicBlock(width, width),
        BasicBlock(width, wide, stride=2, downsample=nn.Sequential(nn.Conv2d(width, wide, 1, stride=2, bias=False),
                                                                   nn.BatchNorm2d(wide))),
        nn.AdaptiveAvgPool2d(1), nn.Flatten())


def resnet18_backbone(pretrained):
    """torchvision's ResNet-18 without its last layer (a 512-dimensional representation); with `pretrained`, its
    ImageNet weights, or a one-line error when they can be neither found in the torch hub cache nor downloaded."""
    weights = torchvision.models.ResNet18_Weights.IMAGENET1K_V1 if pretrained else None
    try:
        model = torchvision.models.resnet18(weights=weights)
    except Exception as error:
        fail(f"pretrained: torchvision's ImageNet ResNet-18 weights could not be downloaded ({type(error).__name__}); "
             f"run torchvision.models.resnet18(weights='IMAGENET1K_V1') once where there is a network (it caches them "
             f"under $TORCH_HOME), or set --pretrained=False")
    model.fc = nn.Identity()
    return model


class MultitaskNet(nn.Module):
    """`backbone` gives r(x) (d dims); `heads` is C (T x d): task t scores C[t] . r(x). The names `backbone` and
    `heads` are the perturbation scopes of robustness.perturb."""

    def __init__(self, backbone, dims, num_tasks):
        super().__init__()
        self.backbone, self.heads = backbone, nn.Linear(dims, num_tasks, bias=False)

    def forward(self, images):
        return self.heads(self.backbone(images))


def stacked(tasks):
    """[(images, labels)] per task -> (images, task index, label) of all samples together. Each image keeps its own
    task and label: the paper's code fed the first task's images to every task, with each task's own labels."""
    images = torch.cat([x for x, _ in tasks])
    task_ids = torch.cat([torch.full((len(y),), t) for t, (_, y) in enumerate(tasks)])
    return images, task_ids, torch.cat([y for _, y in tasks])


def task_logits(logits, task_ids):
    """The logit of each sample's own task: (N, T) -> (N,)."""
    return logits.gather(1, task_ids[:, None])[:, 0]


def train(model, images, task_ids, labels, epochs, batch_size, lr, weight_decay, generator):
    """AdamW on the sigmoid cross-entropy of each sample's own task, in shuffled batches drawn from all tasks
    together, so every T takes the same number of steps over the same number of samples."""
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            with autocast(device):
                logits = model(images[batch].to(device))
            loss = nn.functional.binary_cross_entropy_with_logits(
                task_logits(logits.float(), task_ids[batch].to(device)), labels[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def evaluate(model, images, task_ids, labels, num_tasks, batch_size=1024):
    """(accuracy, mean cross-entropy) of every task on its own samples: two numpy arrays of length T. The tensors
    must be on the model's device."""
    device = next(model.parameters()).device
    logits = []
    for start in range(0, len(images), batch_size):
        with autocast(device):
            logits.append(model(images[start:start + batch_size]).float())
    logit = task_logits(torch.cat(logits), task_ids)
    correct = ((logit > 0).float() == labels).float()
    loss = nn.functional.binary_cross_entropy_with_logits(logit, labels, reduction='none')
    count = torch.bincount(task_ids, minlength=num_tasks)
    per_task = lambda values: (torch.bincount(task_ids, weights=values, minlength=num_tasks) / count).cpu().numpy()
    return per_task(correct), per_task(loss)
