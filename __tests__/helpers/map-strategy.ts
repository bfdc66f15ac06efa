import { BaseStrategy } from '../../src/strategies/base-strategy.js';

/** A user's store as the README shows it: a BaseStrategy subclass written without decorators. */
export class MapStrategy extends BaseStrategy {
  rows = new Map<string, string>();
  async createData(data: object) {
    const id = crypto.randomUUID().replaceAll('-', '');
    this.rows.set(id, JSON.stringify(data));
    return id;
  }
  async readData(id: string) {
    const row = this.rows.get(id);
    return row ? JSON.parse(row) : null;
  }
  async updateData(id: string, data: object) {
    if (!this.rows.has(id)) return false; // only an existing record: a destroyed one stays gone
    this.rows.set(id, JSON.stringify(data));
    return true;
  }
  async deleteData(id: string) {
    this.rows.delete(id);
  }
}

/**
 * The README's second form of a user's store: the four methods as functions over a Map (for
 * `createCustomStrategy`). `newId` makes the ids.
 */
export function mapFunctions(rows: Map<string, string>, newId: () => string = () => crypto.randomUUID().replaceAll('-', '')) {
  return {
    async createData(data: object) {
      const id = newId();
      rows.set(id, JSON.stringify(data));
      return id;
    },
    async readData(id: string) {
      const row = rows.get(id);
      return row ? JSON.parse(row) : null;
    },
    async updateData(id: string, data: object) {
      if (!rows.has(id)) return false;
      rows.set(id, JSON.stringify(data));
      return true;
    },
    async deleteData(id: string) {
      rows.delete(id);
    }
  };
}
