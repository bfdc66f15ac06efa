import type { PageServerLoad } from './$types';

// The visit counter from the original README.
export const load: PageServerLoad = async ({ locals }) => {
  const views = (locals.session.get('views') ?? 0) + 1;
  await locals.session.set('views', views);
  return { views };
};
