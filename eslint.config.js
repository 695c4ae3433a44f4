import config from '@eventsource/eslint-config';

export default config;
