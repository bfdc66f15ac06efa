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
    this.rows.set(id, JSON.stringify(data));
  }
  async deleteData(id: string) {
    this.rows.delete(id);
  }
}
