import { z } from 'zod';

/** The conversation in the path; the rules parse it into what it names (and refuse anything else with 400). */
export const conversationParams = z.object({
  id: z
    .string()
    .meta({ description: "`global`, `user:<the other user's id>` or `room:<room id>`", example: 'room:0d6b5a8e-8f5e-4c1e-9a43-3f0d2b7c9e11' }),
});
