"""Memory extraction, organised by task; each task module holds its model-free and its
LLM-driven version side by side (the LLM one falls back to the model-free one per input):

- facts.py: semantic facts from what the user says (with slots for supersession)
- episodes.py: a session cut into events
- procedural.py: habits, goals and the core profile, as explicit operations
- personality.py: Big Five observations per turn
- linking.py: topics and named entities of the extracted memories (model-free in both modes)
- updates.py: how new facts supersede the active ones
- nodes.py: one constructor per node type extraction makes; common.py: what tasks share;
  text.py: sentences, keywords, stems, entities, third-person rewriting.
"""
